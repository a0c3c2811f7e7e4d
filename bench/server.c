// SPDX-License-Identifier: MIT
/*
 * server - a server runtime embedding the allocator.
 *
 * An I/O thread makes simulated requests: it allocates a receive buffer of
 * random size (-s..-S), writes a header into it and hands it to one of -t
 * worker threads through a bounded queue (mutex + condition variables).
 * A worker looks up the connection object of the request (opening a new
 * one, from an object cache, for a new or closed connection), takes a
 * request struct from another object cache, checks the buffer, allocates a
 * response buffer of random size, then frees the response, the request
 * struct and the receive buffer (a remote free: it came from the I/O
 * thread). The request structs of a batch of requests popped from the
 * queue are allocated, and freed, together: with hakmem in one
 * hak_cache_alloc_bulk() and one hak_cache_free_bulk() call, as a runtime
 * handling requests in batches would; otherwise one call per struct.
 *
 * Built with -DBENCH_HAKMEM, it uses hak_cache_*() and hak_malloc() /
 * hak_free(); otherwise malloc() plus explicit constructor calls. With
 * CONFIG_RCU too, a closed connection, taken out of the worker's lookup
 * table, goes back with hak_cache_free_rcu(), as a runtime whose table
 * other threads read under RCU would free it (the workers register with
 * liburcu; nothing here reads under RCU, so this measures the cost of
 * the deferral: batching, call_rcu() and the callback's frees).
 *
 * One allocation call in 16 is timed with clock_gettime(); the report
 * gives requests per second and the median and 99th percentile of those
 * timings in ns (timer_ns, the cost of an empty timed section, included).
 * -n is the number of requests; one op is one request.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <pthread.h>
#include "bench_util.h"
#ifdef BENCH_HAKMEM
#include <hakmem/hakmem.h>
#ifdef CONFIG_RCU
#include <urcu.h>
#define SRV_RCU 1
#endif
#define VARIANT "hakmem"
#else
#define VARIANT "malloc"
#endif

#define NAME "server"
#define SRV_QCAP 256
#define SRV_POP 32
#define SRV_CONNS 64
#define SRV_SAMPLES (1U << 18)
#define SRV_MAGIC_CONN 0x636f6e6eU
#define SRV_MAGIC_REQ 0x72657175U
#define SRV_MIN_BUF 64

struct srv_msg {
	uint64_t seq;
	uint32_t len;
	uint32_t conn;
};

struct srv_conn {
	uint32_t magic;
	uint32_t open;
	uint64_t id;
	uint64_t requests;
	uint64_t bytes;
	char peer[64];
};

struct srv_req {
	uint32_t magic;
	uint32_t status;
	struct srv_conn *conn;
	unsigned char *buf;
	size_t len;
	unsigned char *resp;
	size_t resp_len;
	char path[96];
};

struct srv_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	unsigned char *item[SRV_QCAP];
	unsigned int head;
	unsigned int count;
};

struct srv_samples {
	uint32_t *ns;
	unsigned long n;
	unsigned long calls;
};

struct srv_worker {
	BENCH_PRIVATE pthread_t tid;
	unsigned int id;
	struct srv_queue q;
	struct srv_samples lat;
	struct srv_conn *conns[SRV_CONNS];
	unsigned long requests;
};

static struct bench_opts opts;
static struct srv_worker *workers;
static struct srv_samples io_lat;
static atomic_int stop_flag;
#ifdef BENCH_HAKMEM
static struct hak_cache *conn_cache;
static struct hak_cache *req_cache;
#endif

static void conn_ctor(void *p)
{
	struct srv_conn *c = p;

	memset(c, 0, sizeof(*c));
	c->magic = SRV_MAGIC_CONN;
}

static void req_ctor(void *p)
{
	struct srv_req *r = p;

	memset(r, 0, sizeof(*r));
	r->magic = SRV_MAGIC_REQ;
}

static void *srv_buf_alloc(size_t size)
{
#ifdef BENCH_HAKMEM
	return hak_malloc(size);
#else
	return malloc(size);
#endif
}

static void srv_buf_free(void *p)
{
#ifdef BENCH_HAKMEM
	hak_free(p);
#else
	free(p);
#endif
}

static struct srv_conn *srv_conn_alloc(void)
{
#ifdef BENCH_HAKMEM
	return hak_cache_alloc(conn_cache);
#else
	struct srv_conn *c = malloc(sizeof(*c));

	if (c)
		conn_ctor(c);
	return c;
#endif
}

static void srv_conn_free(struct srv_conn *c)
{
	if (c->magic != SRV_MAGIC_CONN || !c->open)
		bench_corrupt(NAME, c, sizeof(*c));
	conn_ctor(c);
#if defined(SRV_RCU)
	hak_cache_free_rcu(conn_cache, c);
#elif defined(BENCH_HAKMEM)
	hak_cache_free(conn_cache, c);
#else
	free(c);
#endif
}

#ifndef BENCH_HAKMEM
static struct srv_req *srv_req_alloc(void)
{
	struct srv_req *r = malloc(sizeof(*r));

	if (r)
		req_ctor(r);
	return r;
}
#endif

/* Back to the constructed state, before a request struct is freed. */
static void srv_req_reset(struct srv_req *r)
{
	if (r->magic != SRV_MAGIC_REQ)
		bench_corrupt(NAME, r, sizeof(*r));
	r->status = 0;
	r->conn = NULL;
	r->buf = NULL;
	r->resp = NULL;
	r->len = 0;
	r->resp_len = 0;
	r->path[0] = 0;
}

/*
 * @n request structs for a batch of requests, one call timed in 16 (its
 * time per struct recorded); the libc variant allocates them one by one.
 */
static void srv_reqs_get(struct srv_samples *lat, struct srv_req **reqs,
			 unsigned int n)
{
	uint64_t t0 = 0;
	int timed = (lat->calls++ & 15) == 0;

	if (!n)
		return;
	if (timed)
		t0 = bench_now_ns();
#ifdef BENCH_HAKMEM
	if (hak_cache_alloc_bulk(req_cache, n, (void **)reqs) != n)
		bench_oom(NAME, sizeof(**reqs));
#else
	for (unsigned int i = 0; i < n; i++)
		if (!(reqs[i] = srv_req_alloc()))
			bench_oom(NAME, sizeof(**reqs));
#endif
	if (timed) {
		t0 = (bench_now_ns() - t0) / n;
		lat->ns[lat->n++ % SRV_SAMPLES] = (uint32_t)t0;
	}
}

static void srv_reqs_put(struct srv_req **reqs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		srv_req_reset(reqs[i]);
#ifdef BENCH_HAKMEM
	hak_cache_free_bulk(req_cache, n, (void **)reqs);
#else
	for (unsigned int i = 0; i < n; i++)
		free(reqs[i]);
#endif
}

/* Which allocation a timed call makes. */
enum srv_kind { SRV_BUF, SRV_CONN };

/* Make one allocation, timing one call in 16. */
static void *srv_alloc(struct srv_samples *lat, enum srv_kind kind,
		       size_t size)
{
	uint64_t t0 = 0;
	int timed = (lat->calls++ & 15) == 0;
	void *p;

	if (timed)
		t0 = bench_now_ns();
	if (kind == SRV_CONN)
		p = srv_conn_alloc();
	else
		p = srv_buf_alloc(size);
	if (timed) {
		t0 = bench_now_ns() - t0;
		lat->ns[lat->n++ % SRV_SAMPLES] = (uint32_t)t0;
	}
	if (!p)
		bench_oom(NAME, size);
	return p;
}

static void srv_push(struct srv_queue *q, unsigned char *buf)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == SRV_QCAP)
		pthread_cond_wait(&q->not_full, &q->lock);
	q->item[(q->head + q->count) % SRV_QCAP] = buf;
	if (q->count++ == 0)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
}

/* Take up to SRV_POP buffers; returns how many. */
static unsigned int srv_pop(struct srv_queue *q, unsigned char **out)
{
	unsigned int n = 0;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0)
		pthread_cond_wait(&q->not_empty, &q->lock);
	if (q->count == SRV_QCAP)
		pthread_cond_signal(&q->not_full);
	while (q->count > 0 && n < SRV_POP) {
		out[n++] = q->item[q->head];
		q->head = (q->head + 1) % SRV_QCAP;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

static void srv_handle(struct srv_worker *w, unsigned char *buf,
		       struct srv_req *req, uint64_t *rng)
{
	struct srv_msg *msg = (struct srv_msg *)(buf + 8);
	size_t len = msg->len, rlen;
	unsigned int slot = msg->conn % SRV_CONNS;
	struct srv_conn *conn = w->conns[slot];

	if (bench_check(buf, len))
		bench_corrupt(NAME, buf, len);
	if (conn && (bench_rand(rng) & 7) == 0) {
		srv_conn_free(conn);
		conn = NULL;
	}
	if (!conn) {
		conn = srv_alloc(&w->lat, SRV_CONN, sizeof(*conn));
		if (conn->magic != SRV_MAGIC_CONN || conn->open)
			bench_corrupt(NAME, conn, sizeof(*conn));
		conn->open = 1;
		conn->id = msg->seq;
		w->conns[slot] = conn;
	}
	if (req->magic != SRV_MAGIC_REQ || req->buf)
		bench_corrupt(NAME, req, sizeof(*req));
	req->conn = conn;
	req->buf = buf;
	req->len = len;
	snprintf(req->path, sizeof(req->path), "/obj/%llu",
		 (unsigned long long)msg->seq);
	rlen = bench_rand_range(rng, opts.min_size, opts.max_size);
	req->resp = srv_alloc(&w->lat, SRV_BUF, rlen);
	req->resp_len = rlen;
	memset(req->resp, 'r', rlen < 256 ? rlen : 256);
	bench_fill(req->resp, rlen);
	conn->requests++;
	conn->bytes += len + rlen;
	if (bench_check(req->resp, rlen))
		bench_corrupt(NAME, req->resp, rlen);
	srv_buf_free(req->resp);
	srv_buf_free(buf);
	w->requests++;
}

static void *srv_worker_thread(void *arg)
{
	struct srv_worker *w = arg;
	uint64_t rng = bench_seed(opts.seed, w->id + 1);
	unsigned char *batch[SRV_POP];
	struct srv_req *reqs[SRV_POP];
	unsigned int n, i;
	int done = 0;

#ifdef SRV_RCU
	rcu_register_thread();
#endif
	while (!done) {
		n = srv_pop(&w->q, batch);
		srv_reqs_get(&w->lat, reqs, n);
		for (i = 0; i < n; i++) {
			if (!batch[i])
				done = 1;
			else
				srv_handle(w, batch[i], reqs[i], &rng);
		}
		srv_reqs_put(reqs, n);
	}
	for (i = 0; i < SRV_CONNS; i++)
		if (w->conns[i])
			srv_conn_free(w->conns[i]);
#ifdef SRV_RCU
	rcu_unregister_thread();
#endif
	return NULL;
}

static void srv_io_loop(void)
{
	uint64_t rng = bench_seed(opts.seed, 0);
	unsigned long seq;
	int i;

	for (seq = 0;; seq++) {
		size_t len = bench_rand_range(&rng, opts.min_size,
					      opts.max_size);
		unsigned char *buf;
		struct srv_msg *msg;

		if (bench_finished(&opts, &stop_flag, seq))
			break;
		buf = srv_alloc(&io_lat, SRV_BUF, len);
		bench_fill(buf, len);
		msg = (struct srv_msg *)(buf + 8);
		msg->seq = seq;
		msg->len = (uint32_t)len;
		msg->conn = (uint32_t)(bench_rand(&rng) >> 40);
		srv_push(&workers[seq % (unsigned long)opts.threads].q, buf);
	}
	for (i = 0; i < opts.threads; i++)
		srv_push(&workers[i].q, NULL);
}

static void *srv_timer_thread(void *arg)
{
	(void)arg;
	bench_sleep(opts.secs);
	atomic_store(&stop_flag, 1);
	return NULL;
}

static int srv_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static uint64_t srv_timer_cost(void)
{
	uint32_t t[101];
	int i;

	for (i = 0; i < 101; i++) {
		uint64_t t0 = bench_now_ns();

		t[i] = (uint32_t)(bench_now_ns() - t0);
	}
	qsort(t, 101, sizeof(t[0]), srv_cmp);
	return t[50];
}

/* Merge all samples into one sorted array; returns the count. */
static unsigned long srv_collect(uint32_t **out)
{
	unsigned long total = 0, n;
	uint32_t *all;
	int i;

	all = malloc(SRV_SAMPLES * sizeof(*all) * ((size_t)opts.threads + 1));
	if (!all)
		bench_oom(NAME, SRV_SAMPLES);
	n = io_lat.n < SRV_SAMPLES ? io_lat.n : SRV_SAMPLES;
	memcpy(all, io_lat.ns, n * sizeof(*all));
	total = n;
	for (i = 0; i < opts.threads; i++) {
		struct srv_samples *s = &workers[i].lat;

		n = s->n < SRV_SAMPLES ? s->n : SRV_SAMPLES;
		memcpy(all + total, s->ns, n * sizeof(*all));
		total += n;
	}
	qsort(all, total, sizeof(*all), srv_cmp);
	*out = all;
	return total;
}

static void srv_samples_init(struct srv_samples *s)
{
	s->ns = calloc(SRV_SAMPLES, sizeof(*s->ns));
	if (!s->ns)
		bench_oom(NAME, SRV_SAMPLES);
}

static void srv_setup(void)
{
	int i;

#ifdef BENCH_HAKMEM
	conn_cache = hak_cache_create("srv_conn", sizeof(struct srv_conn), 0,
				      HAK_SLAB_HWCACHE_ALIGN, conn_ctor);
	req_cache = hak_cache_create("srv_req", sizeof(struct srv_req), 0, 0,
				     req_ctor);
	if (!conn_cache || !req_cache) {
		fprintf(stderr, NAME ": hak_cache_create failed\n");
		exit(1);
	}
#endif
	workers = bench_alloc_threads((size_t)opts.threads, sizeof(*workers));
	if (!workers)
		bench_oom(NAME, sizeof(*workers));
	srv_samples_init(&io_lat);
	for (i = 0; i < opts.threads; i++) {
		workers[i].id = (unsigned int)i;
		pthread_mutex_init(&workers[i].q.lock, NULL);
		pthread_cond_init(&workers[i].q.not_empty, NULL);
		pthread_cond_init(&workers[i].q.not_full, NULL);
		srv_samples_init(&workers[i].lat);
	}
}

static void parse_args(int argc, char **argv)
{
	int c;

	bench_opts_init(&opts, 2, 64, 16384, 1000000);
	while ((c = getopt(argc, argv, BENCH_COMMON_OPTS)) != -1)
		if (bench_parse_common(&opts, c, optarg))
			bench_usage(NAME, "");
	bench_opts_check(&opts, NAME);
	if (opts.min_size < SRV_MIN_BUF)
		opts.min_size = SRV_MIN_BUF;
	if (opts.max_size < opts.min_size)
		opts.max_size = opts.min_size;
}

/**
 * main() - run the benchmark and print its RESULT line
 * @argc: argument count
 * @argv: arguments, see the usage message
 *
 * Return: 0 on success; the program exits with 1 on bad options, 2 on a
 * damaged object (BENCH_EXIT_CORRUPT) and 3 when an allocation fails.
 */
int main(int argc, char **argv)
{
	unsigned long requests = 0, nsamples;
	pthread_t timer;
	uint32_t *all;
	double t0, secs;
	int i;

	parse_args(argc, argv);
	srv_setup();
	t0 = bench_now();
	for (i = 0; i < opts.threads; i++) {
		if (pthread_create(&workers[i].tid, NULL, srv_worker_thread,
				   &workers[i])) {
			fprintf(stderr, NAME ": pthread_create failed\n");
			return 1;
		}
	}
	if (opts.secs > 0 &&
	    pthread_create(&timer, NULL, srv_timer_thread, NULL)) {
		fprintf(stderr, NAME ": pthread_create failed\n");
		return 1;
	}
	srv_io_loop();
	for (i = 0; i < opts.threads; i++) {
		pthread_join(workers[i].tid, NULL);
		requests += workers[i].requests;
	}
#ifdef SRV_RCU
	hak_rcu_barrier();	/* the deferred frees are part of the work */
#endif
	secs = bench_now() - t0;
	if (opts.secs > 0)
		pthread_join(timer, NULL);
	nsamples = srv_collect(&all);
	printf("RESULT name=" NAME " variant=" VARIANT " threads=%d ops=%lu "
	       "secs=%.3f ops_per_sec=%.4g req_per_sec=%.4g p50_alloc_ns=%u "
	       "p99_alloc_ns=%u timer_ns=%llu samples=%lu peak_rss_kb=%ld "
	       "rss_kb=%ld\n",
	       opts.threads, requests, secs, (double)requests / secs,
	       (double)requests / secs,
	       nsamples ? all[nsamples / 2] : 0,
	       nsamples ? all[nsamples * 99 / 100] : 0,
	       (unsigned long long)srv_timer_cost(), nsamples,
	       bench_peak_rss_kb(), bench_cur_rss_kb());
	return 0;
}

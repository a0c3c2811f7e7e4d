// SPDX-License-Identifier: MIT
/*
 * Cross-node frees (see remote.h). Each thread that frees another node's
 * objects gets a small set of buffers, one per owner node (the boot pool
 * included), each holding objects of one cache; a full buffer, a buffer
 * that must change cache, thread exit and hak_trim() flush it with one
 * central_drain(), which takes only that node's central lock: no global
 * lock is involved.
 */
#include <pthread.h>

#include "cache.h"
#include "meta.h"
#include "remote.h"

#define REMOTE_BATCH	16

struct remote_buf {
	uint16_t n;
	uint16_t cache_id;
	void *objs[REMOTE_BATCH];
};

struct remote_bufs {
	struct remote_buf node[HAK_NODE_SLOTS];
	struct remote_bufs *next_free;
};

static __thread struct remote_bufs *tls_rb
	__attribute__((tls_model("initial-exec")));
static __thread int tls_rb_dead __attribute__((tls_model("initial-exec")));
static pthread_key_t rb_key;
/* taken around fork() by core/init.c */
struct mutex_lock remote_lock = HAK_LOCK_INIT;
static struct remote_bufs *rb_free;

static void buf_flush(struct remote_buf *b)
{
	if (b->n && cache_by_id[b->cache_id])
		central_drain(cache_by_id[b->cache_id], b->objs, b->n,
			      HAK_OWNER_REMOTE);
	b->n = 0;
}

static void bufs_flush(struct remote_bufs *rb)
{
	for (unsigned int n = 0; n < HAK_NODE_SLOTS; n++)
		buf_flush(&rb->node[n]);
}

static void remote_thread_exit(void *arg)
{
	struct remote_bufs *rb = arg;

	bufs_flush(rb);
	tls_rb = NULL;
	tls_rb_dead = 1;
	mutex_lock(&remote_lock);
	rb->next_free = rb_free;
	rb_free = rb;
	mutex_unlock(&remote_lock);
}

/**
 * remote_init() - create the key whose destructor flushes exiting threads
 */
void remote_init(void)
{
	pthread_key_create(&rb_key, remote_thread_exit);
}

static struct remote_bufs *bufs_get(void)
{
	struct remote_bufs *rb;

	if (tls_rb_dead)
		return NULL;
	mutex_lock(&remote_lock);
	rb = rb_free;
	if (rb)
		rb_free = rb->next_free;
	mutex_unlock(&remote_lock);
	if (!rb)
		rb = meta_alloc(sizeof(*rb));
	if (!rb)
		return NULL;
	tls_rb = rb;
	pthread_setspecific(rb_key, rb);
	return rb;
}

/**
 * remote_free() - free an object that belongs to another node
 * @c: its cache
 * @p: the object, checked and tagged free
 * @node: its owner node (pool index)
 */
void remote_free(struct hak_cache *c, void *p, unsigned int node)
{
	struct remote_bufs *rb = tls_rb;
	struct remote_buf *b;

	if (unlikely(!rb)) {
		rb = bufs_get();
		if (!rb) {
			central_drain(c, &p, 1, HAK_OWNER_NONE);
			return;
		}
	}
	b = &rb->node[node];
	if (b->n && b->cache_id != c->id)
		buf_flush(b);
	b->cache_id = (uint16_t)c->id;
	b->objs[b->n++] = p;
	if (b->n == REMOTE_BATCH)
		buf_flush(b);
}

/**
 * remote_flush_current() - hand back every buffered object of this thread
 */
void remote_flush_current(void)
{
	if (tls_rb)
		bufs_flush(tls_rb);
}

/* SPDX-License-Identifier: MIT */
/*
 * The background thread (HAKMEM_BACKGROUND=1): runs the allocator's decay
 * work while the program makes no allocator calls.
 */
#ifndef HAK_BACKGROUND_H
#define HAK_BACKGROUND_H

void background_work(void);
void background_start(void);
void background_stop(void);
void background_fork_child(void);
int background_running(void);
unsigned long background_passes(void);

#endif /* HAK_BACKGROUND_H */

/*
 * commit_queue.h: the leader/follower queue of group commit, shared by
 * both backends' token issue (sqlite_commit.c, pg_commit.c). Submitters
 * queue an item; the first to find no commit running leads: it takes up
 * to max_batch queued items (its own among them), runs commit on them
 * without the queue's lock, marks them done and wakes the others. So
 * issues that arrive while one commits share the next commit, and an
 * issue alone waits for nobody. Internal to storage/.
 */
#ifndef LK_COMMIT_QUEUE_H
#define LK_COMMIT_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

/* The first member of a backend's queued item. */
struct cq_item {
	struct cq_item *next;
	bool done;
};

struct commit_queue {
	pthread_mutex_t mu; /* guards the list and leading */
	pthread_cond_t cv;
	struct cq_item *head, **tail;
	bool leading;
};

void cq_init(struct commit_queue *q);
void cq_destroy(struct commit_queue *q);

/* Runs a batch: the items from batch on, linked by next, in queue order.
 * Sets each item's result in the backend's item. */
typedef void (*cq_commit_fn)(void *ctx, struct cq_item *batch);

/* Queues me and returns once a commit (run by this thread or another)
 * has set its result. me lives on the caller's stack until then. */
void cq_run(struct commit_queue *q, struct cq_item *me, int max_batch,
            cq_commit_fn commit, void *ctx);

#endif

/*
 * commit_queue.h: the writer of group commit, shared by both backends'
 * token issue (sqlite_commit.c, pg_commit.c). Submitters queue an item and
 * return at once; one writer thread per queue takes everything queued (up
 * to max_batch items), commits it as one batch, and completes each item.
 * So a batch holds every issue that arrived while the previous commit ran:
 * it grows with the load, not with the number of threads that submit. The
 * writer commits as soon as it is free and never waits on a timer: an
 * issue alone is committed alone, at once. Internal to storage/.
 */
#ifndef LK_COMMIT_QUEUE_H
#define LK_COMMIT_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

#include "store.h"

/* The first member of a backend's queued item, which is heap-allocated:
 * once its batch is committed, the writer frees it and calls done(rc,
 * arg) (store.h's xIssue contract). */
struct cq_item {
	struct cq_item *next;
	enum store_rc rc; /* the item's result, set by the batch's commit */
	store_issue_done done;
	void *arg;
};

/* Runs a batch: the items from batch on, linked by next, in queue order.
 * Sets each item's rc. */
typedef void (*cq_commit_fn)(void *ctx, struct cq_item *batch);

struct commit_queue {
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* the writer waits here for work */
	struct cq_item *head, **tail;
	int max_batch;
	cq_commit_fn commit;
	void *ctx;
	pthread_t writer;
	bool started, stopping;
};

void cq_init(struct commit_queue *q, int max_batch, cq_commit_fn commit,
             void *ctx);
/* Commits what is still queued, then stops and joins the writer. */
void cq_destroy(struct commit_queue *q);

/* Queues it (done and arg set by the caller) and returns; the writer
 * thread is started on first use. If it cannot start, the item is
 * committed and completed on the calling thread. */
void cq_submit(struct commit_queue *q, struct cq_item *it);

#endif

/*
 * commit_queue.c: the writer thread of group commit (see commit_queue.h);
 * it owns each item from its submission until it frees it, completed.
 */
#include <stddef.h>
#include <stdlib.h>

#include "commit_queue.h"
#include "metrics.h"

void cq_init(struct commit_queue *q, int max_batch, cq_commit_fn commit,
             void *ctx)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->head = NULL;
	q->tail = &q->head;
	q->max_batch = max_batch;
	q->commit = commit;
	q->ctx = ctx;
	q->started = q->stopping = false;
}

/* Takes up to max_batch items off the queue (q->mu held). */
static struct cq_item *take_batch(struct commit_queue *q, int *n)
{
	struct cq_item *batch = q->head, *last = batch;
	*n = 1;
	while (*n < q->max_batch && last->next) {
		last = last->next;
		(*n)++;
	}
	q->head = last->next;
	if (q->head == NULL)
		q->tail = &q->head;
	last->next = NULL;
	return batch;
}

static void run_batch(struct commit_queue *q, struct cq_item *batch, int n)
{
	metrics_commit_batch(n);
	q->commit(q->ctx, batch);
	for (struct cq_item *it = batch, *next; it; it = next) {
		next = it->next;
		store_issue_done done = it->done;
		void *arg = it->arg;
		enum store_rc rc = it->rc;
		free(it); /* the backend's item: cq_item is its first member */
		done(rc, arg);
	}
}

static void *writer(void *arg)
{
	struct commit_queue *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->head == NULL)
			break; /* stopping, and nothing left */
		int n;
		struct cq_item *batch = take_batch(q, &n);
		pthread_mutex_unlock(&q->mu);
		run_batch(q, batch, n);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

void cq_submit(struct commit_queue *q, struct cq_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (!q->started && !q->stopping)
		q->started = pthread_create(&q->writer, NULL, writer, q) == 0;
	if (!q->started) {
		pthread_mutex_unlock(&q->mu);
		run_batch(q, it, 1);
		return;
	}
	bool idle = q->head == NULL;
	*q->tail = it;
	q->tail = &it->next;
	pthread_mutex_unlock(&q->mu);
	/* A writer with a queue already in hand will see this item before
	 * it waits again: only an empty queue may have a sleeping writer. */
	if (idle)
		pthread_cond_signal(&q->cv);
}

void cq_destroy(struct commit_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	bool started = q->started;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (started)
		pthread_join(q->writer, NULL);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
}

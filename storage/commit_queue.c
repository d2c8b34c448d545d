/*
 * commit_queue.c: the leader/follower queue of group commit (see
 * commit_queue.h); it owns no item: each lives on its submitter's stack.
 */
#include <stddef.h>

#include "commit_queue.h"

void cq_init(struct commit_queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->head = NULL;
	q->tail = &q->head;
	q->leading = false;
}

void cq_destroy(struct commit_queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
}

void cq_run(struct commit_queue *q, struct cq_item *me, int max_batch,
            cq_commit_fn commit, void *ctx)
{
	me->next = NULL;
	me->done = false;
	pthread_mutex_lock(&q->mu);
	*q->tail = me;
	q->tail = &me->next;
	while (!me->done) {
		if (q->leading) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		/* Lead: take up to max_batch from the queue (me among them:
		 * only a leader removes items, and it completes them). */
		q->leading = true;
		struct cq_item *batch = q->head, *last = batch;
		for (int n = 1; n < max_batch && last->next; n++)
			last = last->next;
		q->head = last->next;
		if (q->head == NULL)
			q->tail = &q->head;
		last->next = NULL;
		pthread_mutex_unlock(&q->mu);

		commit(ctx, batch);

		pthread_mutex_lock(&q->mu);
		for (struct cq_item *it = batch, *next; it; it = next) {
			next = it->next;
			it->done = true; /* it may vanish once mu is free */
		}
		q->leading = false;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

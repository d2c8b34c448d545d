/*
 * delay.c: the test double's injected delays (a fault with delay_ms). A
 * delayed request must not hold up the MHD worker that serves it and
 * other connections, so it is suspended (req_suspend) and one thread
 * resumes it when its time comes; its real handler then runs on MHD's
 * thread as usual, with every check it makes. When a stop begins, every
 * held request goes at once and later ones are not held (delays_cut), so
 * a delay never holds up a graceful stop.
 *
 * Resumes happen under mu: once delays_cut returns, no resume of this
 * file is under way, and the daemon may be stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strutil.h"
#include "testdouble_int.h"

struct held {
	struct srv_req *rq;
	struct timespec due; /* CLOCK_MONOTONIC */
	struct held *next;
};

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec < b->tv_sec
	                              : a->tv_nsec < b->tv_nsec;
}

/* Resumes the held requests due by now (all of them when now is NULL);
 * *next is the earliest still held. Under d->mu. */
static bool release(struct delays *d, const struct timespec *now,
                    struct timespec *next)
{
	bool any = false;
	struct held **pp = &d->list;
	while (*pp != NULL) {
		struct held *h = *pp;
		if (now != NULL && before(now, &h->due)) {
			if (!any || before(&h->due, next))
				*next = h->due;
			any = true;
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		req_resume(h->rq);
		free(h);
	}
	return any;
}

static void *run(void *arg)
{
	struct delays *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->quit) {
		struct timespec now, next;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (release(d, &now, &next))
			pthread_cond_timedwait(&d->wake, &d->mu, &next);
		else
			pthread_cond_wait(&d->wake, &d->mu);
	}
	release(d, NULL, NULL);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int delays_start(struct delays *d, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&d->mu, NULL);
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		snprintf(err, errlen, "test double: cannot start a thread");
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->mu);
		return -1;
	}
	return 0;
}

bool delays_hold(struct delays *d, struct srv_req *rq, long ms,
                 handler_fn then)
{
	struct held *h = xcalloc(1, sizeof(*h));
	h->rq = rq;
	clock_gettime(CLOCK_MONOTONIC, &h->due);
	h->due.tv_sec += ms / 1000;
	h->due.tv_nsec += (ms % 1000) * 1000000;
	if (h->due.tv_nsec >= 1000000000) {
		h->due.tv_sec++;
		h->due.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->mu);
	bool hold = !d->cut;
	if (hold) {
		req_suspend(rq, then);
		h->next = d->list;
		d->list = h;
		pthread_cond_signal(&d->wake);
	}
	pthread_mutex_unlock(&d->mu);
	if (!hold)
		free(h);
	return hold;
}

void delays_cut(void *arg)
{
	struct delays *d = arg;
	pthread_mutex_lock(&d->mu);
	d->cut = true;
	release(d, NULL, NULL);
	pthread_mutex_unlock(&d->mu);
}

void delays_stop(struct delays *d)
{
	pthread_mutex_lock(&d->mu);
	d->quit = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->mu);
}

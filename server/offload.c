/*
 * offload.c: runs the part of a request that may block for seconds (the
 * on_refresh hook: grants_issue_run) on a thread of its own, while the
 * request waits suspended (req_suspend) like any other.
 *
 * Each MHD worker thread serves many connections, so blocking one would
 * stall the others. The handler suspends the connection with its
 * continuation, a new thread runs the work, which must not call into MHD,
 * and resumes the connection; the continuation then answers on MHD's
 * thread. At most on_refresh_hook_max_concurrent run at once.
 *
 * srv_stop waits for two things before it stops the daemon: the threads
 * (a suspended connection must not outlive the daemon, nor a thread the
 * daemon it resumes into) and the requests they ran, until their responses
 * are sent (offload_complete, from on_completed), so that a client whose
 * hook was running at SIGTERM still gets its answer.
 */
#include <pthread.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "clock.h"
#include "server_int.h"
#include "strutil.h"

void offload_init(struct srv *s, int max)
{
	pthread_mutex_init(&s->off_mu, NULL);
	pthread_cond_init(&s->off_idle, NULL);
	s->off_max = max;
}

/* How long a response of an offloaded request may take to leave once its
 * thread is done, at shutdown. */
#define SEND_WAIT_SECS 5

void offload_drain(struct srv *s)
{
	struct timespec until;
	pthread_mutex_lock(&s->off_mu);
	s->off_stopping = true;
	pthread_cond_broadcast(&s->off_idle);
	while (s->off_running > 0)
		pthread_cond_wait(&s->off_idle, &s->off_mu);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SEND_WAIT_SECS;
	while (s->off_inflight > 0 &&
	       pthread_cond_timedwait(&s->off_idle, &s->off_mu, &until) == 0)
		;
	pthread_mutex_unlock(&s->off_mu);
}

void offload_free(struct srv *s)
{
	pthread_cond_destroy(&s->off_idle);
	pthread_mutex_destroy(&s->off_mu);
}

/* What a thread runs: the work, and the request it runs for. */
struct job {
	struct srv_req *rq;
	void (*work)(struct srv_req *rq);
};

static void *run(void *arg)
{
	struct job job = *(struct job *)arg;
	struct srv_req *rq = job.rq;
	struct srv *s = rq->srv;

	free(arg);
	clock_use(rq->site->clock); /* the request's site's time */
	job.work(rq);
	clock_use(NULL);
	/* Before the resume: from then on rq belongs to MHD's thread, and
	 * once the counters drop the process may exit before this thread's
	 * own cleanup runs. */
	store_thread_end(rq->site->store);
	crypto_thread_end();
	req_resume(rq);

	pthread_mutex_lock(&s->off_mu);
	s->off_running--;
	pthread_cond_broadcast(&s->off_idle);
	pthread_mutex_unlock(&s->off_mu);
	return NULL;
}

void offload_complete(struct srv *s)
{
	pthread_mutex_lock(&s->off_mu);
	s->off_inflight--;
	pthread_cond_broadcast(&s->off_idle);
	pthread_mutex_unlock(&s->off_mu);
}

bool offload_start(struct srv_req *rq, void (*work)(struct srv_req *rq),
                   handler_fn then)
{
	struct srv *s = rq->srv;
	pthread_attr_t at;
	pthread_t t;

	pthread_mutex_lock(&s->off_mu);
	bool ok = !s->off_stopping && s->off_inflight < s->off_max;
	if (ok) {
		s->off_running++;
		s->off_inflight++;
	}
	pthread_mutex_unlock(&s->off_mu);
	if (!ok) {
		if (!s->off_stopping)
			log_warnx("%d slow requests (on_refresh hooks) already "
			          "running (on_refresh_hook_max_concurrent)",
			          s->off_max);
		return false;
	}
	rq->off_counted = true;
	/* Suspended first: the thread may resume at once. */
	req_suspend(rq, then);

	struct job *job = xcalloc(1, sizeof(*job));
	*job = (struct job){.rq = rq, .work = work};
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, run, job);
	pthread_attr_destroy(&at);
	if (rc == 0)
		return true;
	free(job);
	log_errx("cannot start a thread for an on_refresh hook");
	req_unsuspend(rq);
	rq->off_counted = false;
	pthread_mutex_lock(&s->off_mu);
	s->off_running--;
	s->off_inflight--;
	pthread_cond_broadcast(&s->off_idle);
	pthread_mutex_unlock(&s->off_mu);
	return false;
}

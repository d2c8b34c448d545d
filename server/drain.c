/*
 * drain.c: a graceful stop. srv_stop (httpd.c) calls drain() at SIGTERM,
 * before it stops the daemon, and drain():
 *
 *   1. stops MHD accepting (MHD_quiesce_daemon);
 *   2. takes over the connections the kernel completed before that but
 *      MHD had not accepted yet (busy workers leave them in the listen
 *      backlog): their clients connected before the signal and are owed
 *      an answer, so they go to MHD with MHD_add_connection;
 *   3. refuses everything newer: shutdown(2) of the listening socket takes
 *      it out of LISTEN, so the kernel answers a connect with RST at once,
 *      where a socket left listening would let clients connect and hang;
 *   4. waits, a bounded time, for the requests under way and for the first
 *      request of connections that have sent none yet. First the
 *      srv_on_stop hook runs, so that a layer holding requests (the test
 *      double's injected delays) lets them go at once; on_refresh hooks
 *      run to their end or timeout.
 *
 * Responses sent meanwhile carry "Connection: close" (respond.c asks
 * drain_stopping), so keep-alive clients go elsewhere for their next
 * request. Idle keep-alive connections are left to MHD_stop_daemon, which
 * closes them.
 *
 * Owns the counters in struct srv (live_reqs, fresh_conns, adopt_unseen)
 * and the per-connection note MHD keeps as the socket context. They are
 * atomics, not a mutex, because they change on every request and are
 * only read (polled) during a stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server_int.h"
#include "strutil.h"

/* How long requests under way may take to finish after the signal. A
 * token request takes milliseconds; an on_refresh hook is bounded by its
 * own timeout and waited for by offload_drain. */
#define DRAIN_REQUEST_MS 10000
/* How long a connection made before the signal may take to send its
 * first request: its bytes are a round trip away, so this only bounds
 * clients that connect ahead of time and send nothing. */
#define DRAIN_SILENT_MS 1000
#define DRAIN_POLL_MS 2

void drain_on_connection(void *cls, struct MHD_Connection *c,
                         void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
	struct srv *s = cls;
	struct conn_note *n = *socket_context;
	(void)c;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = xcalloc(1, sizeof(struct conn_note));
		atomic_fetch_add(&s->fresh_conns, 1);
		/* After the quiesce, MHD starts only connections drain()
		 * handed it. (A worker that was inside accept(2) as the quiesce
		 * ran may still start one: then it is counted as fresh but
		 * takes an adopted one's place, which can end the wait for
		 * that one early; a race of microseconds at a stop.) */
		if (atomic_load(&s->stopping))
			atomic_fetch_sub(&s->adopt_unseen, 1);
		return;
	}
	if (n != NULL && !n->begun)
		atomic_fetch_sub(&s->fresh_conns, 1);
	if (n != NULL)
		tls_peer_clear(&n->cert);
	free(n);
	*socket_context = NULL;
}

void drain_request_begins(struct srv *s, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_note *n = ci != NULL ? ci->socket_context : NULL;
	if (n != NULL && !n->begun) {
		n->begun = true;
		atomic_fetch_sub(&s->fresh_conns, 1);
	}
	atomic_fetch_add(&s->live_reqs, 1);
}

void drain_request_ends(struct srv *s)
{
	atomic_fetch_sub(&s->live_reqs, 1);
}

bool drain_stopping(const struct srv *s)
{
	return atomic_load_explicit(&s->stopping, memory_order_relaxed);
}

/* Step 2: every connection waiting in the backlog goes to MHD. */
static int adopt_backlog(struct srv *s, int lfd)
{
	int n = 0;
	int fl = fcntl(lfd, F_GETFL);
	if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0)
		return 0; /* accept(2) could block: leave the backlog */
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			break; /* EAGAIN: the backlog is empty */
		/* Counted before MHD can start it. MHD owns (and on failure
		 * closes) the socket from here. */
		atomic_fetch_add(&s->adopt_unseen, 1);
		if (MHD_add_connection(s->daemon, fd, (struct sockaddr *)&ss,
		                       sl) == MHD_YES)
			n++;
		else
			atomic_fetch_sub(&s->adopt_unseen, 1);
	}
	return n;
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long)(b->tv_sec - a->tv_sec) * 1000 +
	       (long)(b->tv_nsec - a->tv_nsec) / 1000000;
}

int srv_on_stop(struct srv *s, void (*fn)(void *), void *arg)
{
	/* One slot, refused rather than replaced: a layer whose hook was
	 * silently dropped would never let its held requests go, and MHD
	 * panics at the stop over a connection still suspended. */
	if (s->on_stop != NULL)
		return -1;
	s->on_stop = fn;
	s->on_stop_arg = arg;
	return 0;
}

int drain(struct srv *s)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
	atomic_store(&s->stopping, true);
	if (s->on_stop != NULL)
		s->on_stop(s->on_stop_arg);
	int adopted = 0;
	if (lfd != MHD_INVALID_SOCKET) {
		adopted = adopt_backlog(s, lfd);
		shutdown(lfd, SHUT_RDWR);
	}
	log_info("stopped accepting connections (%d already waiting taken "
	         "over); finishing the requests under way", adopted);
	const struct timespec tick = {0, DRAIN_POLL_MS * 1000000L};
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = ms_between(&t0, &now);
		int live = atomic_load(&s->live_reqs);
		int silent = atomic_load(&s->fresh_conns) +
		             atomic_load(&s->adopt_unseen);
		if (live <= 0 && (silent <= 0 || ms >= DRAIN_SILENT_MS)) {
			log_info("requests under way finished in %ld ms", ms);
			break;
		}
		if (ms >= DRAIN_REQUEST_MS) {
			log_warnx("%d request(s) still running %d s after the "
			          "signal: closing their connections", live,
			          DRAIN_REQUEST_MS / 1000);
			break;
		}
		nanosleep(&tick, NULL);
	}
	return lfd == MHD_INVALID_SOCKET ? -1 : (int)lfd;
}

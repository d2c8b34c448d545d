/*
 * lifeline.c: ties latchkeyd's life to the process that started it, for
 * test suites (docs/test-double.md, "Tie it to the test run"). With
 * exit_on_stdin_close it stops when its standard input reaches end of
 * file (the runner's end of the pipe closed, which the kernel does even
 * when the runner is killed with SIGKILL); with exit_with_parent it stops
 * when its parent process has gone. Either way it stops as on SIGTERM
 * (it sends itself one), so the database is closed and --ephemeral's
 * directory removed.
 *
 * The parent is watched by polling getppid() rather than with
 * PR_SET_PDEATHSIG: that signal fires when the *thread* that forked
 * exits, so a runner that starts the server from a worker thread would
 * see it die while the runner lives on.
 *
 * Owns one thread and a pipe that wakes it for lifeline_stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "strutil.h"

#define PARENT_POLL_MS 200

struct lifeline {
	pthread_t thread;
	int wake[2]; /* lifeline_stop writes to wake[1] */
	bool stdin_eof;
	pid_t parent; /* 0: not watched */
};

static void stop_now(const char *why)
{
	log_info("%s: shutting down", why);
	kill(getpid(), SIGTERM); /* blocked everywhere: main's sigwait takes it */
}

/* Reads (and drops) what stdin holds; true at end of file or when it
 * cannot be read any more. */
static bool stdin_ended(void)
{
	char buf[512];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n > 0)
		return false;
	return n == 0 || (errno != EINTR && errno != EAGAIN);
}

static void *watch(void *arg)
{
	struct lifeline *l = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN},
		                      {.fd = l->stdin_eof ? STDIN_FILENO : -1,
		                       .events = POLLIN}};
		int n = poll(p, 2, l->parent != 0 ? PARENT_POLL_MS : -1);
		if (n < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents != 0)
			return NULL; /* lifeline_stop */
		if (p[1].revents != 0 && stdin_ended()) {
			stop_now("standard input closed (exit_on_stdin_close)");
			return NULL;
		}
		if (l->parent != 0 && getppid() != l->parent) {
			stop_now("the parent process has gone (exit_with_parent)");
			return NULL;
		}
	}
}

struct lifeline *lifeline_start(bool stdin_eof, pid_t parent, char *err,
                                size_t errlen)
{
	if (!stdin_eof && parent == 0)
		return NULL;
	if (stdin_eof && fcntl(STDIN_FILENO, F_GETFL) < 0) {
		snprintf(err, errlen, "exit_on_stdin_close: standard input is "
		         "not open");
		return NULL;
	}
	struct lifeline *l = xcalloc(1, sizeof(*l));
	l->stdin_eof = stdin_eof;
	l->parent = parent;
	if (pipe2(l->wake, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "lifeline: pipe: %s", strerror(errno));
		free(l);
		return NULL;
	}
	int rc = pthread_create(&l->thread, NULL, watch, l);
	if (rc != 0) {
		snprintf(err, errlen, "lifeline: thread: %s", strerror(rc));
		close(l->wake[0]);
		close(l->wake[1]);
		free(l);
		return NULL;
	}
	return l;
}

void lifeline_stop(struct lifeline *l)
{
	if (l == NULL)
		return;
	ssize_t w;
	do
		w = write(l->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(l->thread, NULL);
	close(l->wake[0]);
	close(l->wake[1]);
	free(l);
}

/*
 * refresh_hook.c: runs the on_refresh hook program (on_refresh=hook).
 *
 * The hook decides whether a refresh may go ahead. It is started with
 * posix_spawn, which execve's the configured path directly: never a shell,
 * argv is the path alone, the environment holds only hook_env, the working
 * directory is /, and the process leads a group of its own, which is
 * killed when the hook exits or times out, so nothing it started lingers
 * (a child that calls setsid escapes; run latchkeyd in a cgroup if that
 * matters). It reads one JSON document on stdin
 * and answers with its exit status; a first stdout line "revoke" also asks
 * for the old access token to be revoked. Its stderr goes to the log.
 *
 * This blocks its caller for up to the timeout, so it only runs on a
 * thread of its own (server/offload.c), never on an HTTP worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grants_int.h"
#include "log.h"

#define STDERR_KEEP 4096 /* logged; the rest is read and dropped */
#define STDOUT_KEEP 64   /* only the first line matters */
#define READ_BURST 65536 /* per wake-up, so a flood cannot outlast the deadline */

/* The whole environment of a hook: documented in docs/refresh.md. */
static char *const hook_env[] = {
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LC_ALL=C",
	"LATCHKEY_HOOK=on_refresh",
	NULL,
};

struct sink {
	int fd; /* -1 once at end of file */
	char buf[STDERR_KEEP];
	size_t keep, len;
	bool cut; /* more arrived than was kept */
};

static int64_t ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads what is there without blocking, up to READ_BURST; closes the fd at
 * end of file. */
static void sink_read(struct sink *s)
{
	char tmp[1024];
	for (size_t got = 0; s->fd >= 0 && got < READ_BURST;) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(&s->fd);
			return;
		}
		got += (size_t)n;
		size_t take = (size_t)n;
		if (take > s->keep - s->len) {
			take = s->keep - s->len;
			s->cut = true;
		}
		memcpy(s->buf + s->len, tmp, take);
		s->len += take;
	}
}

/* One log line per stderr line; control bytes become '?' so a hook cannot
 * forge log lines. */
static void log_stderr(const char *path, struct sink *s)
{
	size_t start = 0;
	for (size_t i = 0; i <= s->len; i++) {
		if (i < s->len && s->buf[i] != '\n')
			continue;
		if (i > start) {
			char *line = s->buf + start;
			for (size_t k = 0; k < i - start; k++)
				if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f)
					line[k] = '?';
			log_msg(LOG_INFO, "on_refresh_hook", "%s: %.*s", path,
			        (int)(i - start), line);
		}
		start = i + 1;
	}
	if (s->cut)
		log_msg(LOG_INFO, "on_refresh_hook", "%s: (stderr cut at %d "
		        "bytes)", path, STDERR_KEEP);
}

static int spawn(const char *path, int in, int out, int err, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char *const argv[] = {(char *)path, NULL};

	sigemptyset(&none);
	/* Ignored signals (SIGPIPE here) would stay ignored across execve. */
	sigfillset(&dfl);
	sigdelset(&dfl, SIGKILL);
	sigdelset(&dfl, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	                                  POSIX_SPAWN_SETSIGDEF |
	                                  POSIX_SPAWN_SETPGROUP);
	int rc = posix_spawn(pid, path, &fa, &at, argv, hook_env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Whether the hook has exited, leaving it unreaped: while its zombie
 * stands, its process group id cannot be reused, so the group can still
 * be killed safely. */
static bool has_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == pid;
}

/* Feeds stdin, collects stdout and stderr, and watches for the exit, until
 * deadline. Returns true once the hook has exited (not yet reaped). */
static bool supervise(pid_t pid, int in, const char *input, size_t len,
                      struct sink *out, struct sink *err, int64_t deadline)
{
	int pidfd = pidfd_open(pid, 0); /* -1 on old kernels: poll in ticks */
	size_t sent = 0;
	bool exited = false;

	if (len == 0)
		close_fd(&in);
	while (!exited) {
		int64_t left = deadline - ms_now();
		if (left <= 0)
			break;
		struct pollfd p[4];
		nfds_t n = 0;
		if (in >= 0)
			p[n++] = (struct pollfd){.fd = in, .events = POLLOUT};
		if (out->fd >= 0)
			p[n++] = (struct pollfd){.fd = out->fd, .events = POLLIN};
		if (err->fd >= 0)
			p[n++] = (struct pollfd){.fd = err->fd, .events = POLLIN};
		if (pidfd >= 0)
			p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int wait = (int)(left < 1000 ? left : 1000);
		if (pidfd < 0 && wait > 5)
			wait = 5;
		if (poll(p, n, wait) < 0 && errno != EINTR)
			break;
		if (in >= 0) {
			ssize_t w = write(in, input + sent, len - sent);
			if (w > 0)
				sent += (size_t)w;
			/* EPIPE: the hook does not read its input; fine. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
			    sent == len)
				close_fd(&in);
		}
		sink_read(out);
		sink_read(err);
		exited = has_exited(pid);
	}
	close_fd(&in);
	if (pidfd >= 0)
		close(pidfd);
	return exited;
}

/* Close-on-exec, so a hook started by another thread at the same moment
 * does not inherit this one's pipes (the hook gets them through dup2). */
static bool pipe_pair(int fds[2])
{
	return pipe2(fds, O_CLOEXEC) == 0;
}

enum hook_verdict hook_run(const char *path, long timeout_ms,
                           const char *input, size_t len)
{
	int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
	struct sink out = {.fd = -1, .keep = STDOUT_KEEP};
	struct sink err = {.fd = -1, .keep = STDERR_KEEP};
	enum hook_verdict v = HOOK_DENY;
	pid_t pid;
	int status = 0;

	if (!pipe_pair(in) || !pipe_pair(o) || !pipe_pair(e)) {
		log_errx("on_refresh hook %s: pipe: %s", path, strerror(errno));
		goto out;
	}
	int64_t deadline = ms_now() + timeout_ms;
	int rc = spawn(path, in[0], o[1], e[1], &pid);
	close_fd(&in[0]);
	close_fd(&o[1]);
	close_fd(&e[1]);
	if (rc != 0) {
		log_errx("on_refresh hook %s: cannot start: %s; refresh denied",
		         path, strerror(rc));
		goto out;
	}
	/* Our ends never block: supervise() polls them against the deadline. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	out.fd = o[0];
	err.fd = e[0];
	o[0] = e[0] = -1;

	bool exited = supervise(pid, in[1], input, len, &out, &err, deadline);
	in[1] = -1; /* supervise closed it */
	/* Nothing the hook started outlives it: the whole group goes, then
	 * the hook is reaped, then what it wrote last is read. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sink_read(&out);
	sink_read(&err);
	if (!exited) {
		log_warnx("on_refresh hook %s: no answer within %ld ms; killed; "
		          "refresh denied", path, timeout_ms);
	} else if (WIFSIGNALED(status)) {
		log_warnx("on_refresh hook %s: killed by signal %d; refresh "
		          "denied", path, WTERMSIG(status));
	} else if (WEXITSTATUS(status) != 0) {
		log_info("on_refresh hook %s: exit status %d; refresh denied",
		         path, WEXITSTATUS(status));
	} else {
		out.buf[out.len] = '\0'; /* len <= STDOUT_KEEP < sizeof(buf) */
		out.buf[strcspn(out.buf, "\r\n")] = '\0';
		v = strcmp(out.buf, "revoke") == 0 ? HOOK_ALLOW_REVOKE
		                                   : HOOK_ALLOW;
	}
	log_stderr(path, &err);
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&o[0]);
	close_fd(&o[1]);
	close_fd(&e[0]);
	close_fd(&e[1]);
	close_fd(&out.fd);
	close_fd(&err.fd);
	return v;
}

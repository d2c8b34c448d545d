/*
 * log.c: formats and writes log lines (see log.h). Owns the process-wide
 * format and level; knows nothing about HTTP or OAuth beyond the access-line
 * field names.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "strutil.h"

static bool log_json;
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *format, enum log_level min)
{
	log_json = format != NULL && strcmp(format, "json") == 0;
	log_min = min;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_ERR; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static size_t stamp(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
	return n;
}

/* Appends s as a JSON string body (no quotes), escaping what JSON requires.
 * Bytes that are not UTF-8 (a client may send any) become U+FFFD, so every
 * line stays valid JSON. */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	size_t left = s != NULL ? strlen(s) : 0;
	for (; left > 0 && n + 7 < cap; s++, left--) {
		unsigned char c = (unsigned char)*s;
		size_t seq = c < 0x80 ? 1 : utf8_seq_len(s, left);
		if (seq == 0) {
			n += (size_t)snprintf(dst + n, cap - n, "\\ufffd");
		} else if (seq > 1) {
			if (n + seq + 7 >= cap)
				break;
			memcpy(dst + n, s, seq);
			n += seq;
			s += seq - 1;
			left -= seq - 1;
		} else if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
		} else {
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
	return n;
}

/* Control characters in text mode would let a caller forge log lines. */
static void text_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* ---- the access-log buffer --------------------------------------------
 * One write(2) per request cost as much as a fifth of a token request's
 * system calls. Once log_buffer_start has run (latchkeyd does; the CLI
 * does not), access lines go to a buffer that a thread writes out every
 * BUF_FLUSH_MS, or sooner when half full; every other line first writes
 * out what is buffered and then itself, under the same lock, so the order
 * of lines is kept and warnings are never delayed. A crash loses at most
 * BUF_FLUSH_MS of access lines. */
#define BUF_CAP 65536
#define BUF_FLUSH_MS 100

static struct {
	pthread_mutex_t mu; /* guards all of lb, and orders every write */
	pthread_cond_t cv;
	char *buf;
	size_t used;
	bool running, stopping;
	pthread_t thread;
} lb = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to report it */
		p += w;
		n -= (size_t)w;
	}
}

/* With lb.mu held: writing under the lock is what keeps lines in order. */
static void flush_locked(void)
{
	if (lb.used > 0)
		write_all(lb.buf, lb.used);
	lb.used = 0;
}

static void *flusher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lb.mu);
	while (!lb.stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += BUF_FLUSH_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!lb.stopping && lb.used < BUF_CAP / 2 &&
		       pthread_cond_timedwait(&lb.cv, &lb.mu, &ts) == 0)
			;
		flush_locked();
	}
	pthread_mutex_unlock(&lb.mu);
	return NULL;
}

int log_buffer_start(void)
{
	pthread_mutex_lock(&lb.mu);
	if (lb.running) {
		pthread_mutex_unlock(&lb.mu);
		return 0;
	}
	lb.buf = malloc(BUF_CAP);
	lb.stopping = false;
	if (lb.buf == NULL ||
	    pthread_create(&lb.thread, NULL, flusher, NULL) != 0) {
		free(lb.buf);
		lb.buf = NULL;
		pthread_mutex_unlock(&lb.mu);
		return -1; /* lines stay unbuffered */
	}
	lb.running = true;
	pthread_mutex_unlock(&lb.mu);
	return 0;
}

void log_buffer_stop(void)
{
	pthread_mutex_lock(&lb.mu);
	if (!lb.running) {
		pthread_mutex_unlock(&lb.mu);
		return;
	}
	lb.stopping = true;
	pthread_cond_signal(&lb.cv);
	pthread_mutex_unlock(&lb.mu);
	pthread_join(lb.thread, NULL);
	pthread_mutex_lock(&lb.mu);
	flush_locked();
	lb.running = false;
	free(lb.buf);
	lb.buf = NULL;
	pthread_mutex_unlock(&lb.mu);
}

static void emit(char *line, size_t n, size_t cap, bool buffered)
{
	if (n >= cap - 1)
		n = cap - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&lb.mu);
	if (!buffered || !lb.running || lb.stopping) {
		/* One write per line: atomic below PIPE_BUF on pipes. */
		flush_locked();
		write_all(line, n);
	} else {
		if (lb.used + n > BUF_CAP)
			flush_locked();
		memcpy(lb.buf + lb.used, line, n);
		lb.used += n;
		if (lb.used >= BUF_CAP / 2)
			pthread_cond_signal(&lb.cv);
	}
	pthread_mutex_unlock(&lb.mu);
}

static __thread const char *ctx_addr, *ctx_request_id;

void log_context(const char *addr, const char *request_id)
{
	ctx_addr = addr;
	ctx_request_id = request_id;
}

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
	char msg[1024], line[2048], ts[40];
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stamp(ts, sizeof(ts));

	/* Only security lines carry the request: they are the ones an
	 * operator must trace to a client (issue 17). */
	bool ctx = strcmp(func, "security") == 0 &&
	           (ctx_addr != NULL || ctx_request_id != NULL);
	const char *addr = ctx_addr != NULL && ctx_addr[0] ? ctx_addr : "-";
	const char *rid = ctx_request_id != NULL && ctx_request_id[0]
	                      ? ctx_request_id : "-";
	size_t n;
	if (log_json) {
		/* Room for the rest of the line, so it is never cut short
		 * (a cut line would not be JSON). */
		char esc[1536], ea[100] = "", er[300] = "";
		json_escape(esc, sizeof(esc), msg);
		if (ctx) {
			json_escape(ea, sizeof(ea), addr);
			json_escape(er, sizeof(er), rid);
		}
		n = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"level\":\"%s\",\"where\":\"%s\",\"msg\":\"%s\"%s%s%s%s%s}",
		    ts, level_names[lvl], func, esc,
		    ctx ? ",\"addr\":\"" : "", ea, ctx ? "\",\"request_id\":\"" : "",
		    er, ctx ? "\"" : "");
	} else {
		text_sanitize(msg);
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s: %s", ts,
		    level_names[lvl], func, msg);
		if (ctx && n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			                      " addr=%.64s request_id=%.128s",
			                      addr, rid);
		text_sanitize(line);
	}
	emit(line, n, sizeof(line), false);
}

static const char *or(const char *s, const char *dflt)
{
	return s != NULL && s[0] != '\0' ? s : dflt;
}

void log_request(const struct access_line *a)
{
	char line[2048], ts[40];
	size_t n;

	if (LOG_INFO < log_min)
		return;
	stamp(ts, sizeof(ts));
	if (log_json) {
		char m[40], p[600], ad[100], c[300], g[100], id[300], ua[500];
		json_escape(m, sizeof(m), a->method);
		json_escape(ad, sizeof(ad), or(a->addr, ""));
		json_escape(p, sizeof(p), a->path);
		json_escape(c, sizeof(c), or(a->client_id, ""));
		json_escape(g, sizeof(g), or(a->grant_type, ""));
		json_escape(id, sizeof(id), or(a->request_id, ""));
		json_escape(ua, sizeof(ua), or(a->user_agent, ""));
		n = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"level\":\"info\",\"where\":\"request\","
		    "\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,"
		    "\"addr\":\"%s\",\"client_id\":\"%s\",\"grant_type\":\"%s\",\"error\":\"%s\","
		    "\"ms\":%.3f,\"request_id\":\"%s\",\"user_agent\":\"%s\"}",
		    ts, m, p, a->status, ad, c, g, or(a->error, ""), a->ms, id, ua);
	} else {
		/* New fields go last: scripts that cut the line by position
		 * keep working. The user agent is quoted (it has spaces) and
		 * holds no '"' (server/httpd.c). */
		n = (size_t)snprintf(line, sizeof(line),
		    "%s info request: %s %.512s %d addr=%.64s client_id=%.256s "
		    "grant_type=%.64s error=%s ms=%.3f request_id=%.128s "
		    "ua=\"%.200s\"",
		    ts, a->method, a->path, a->status, or(a->addr, "-"),
		    or(a->client_id, "-"), or(a->grant_type, "-"),
		    or(a->error, "-"), a->ms, or(a->request_id, "-"),
		    or(a->user_agent, ""));
		text_sanitize(line);
	}
	emit(line, n, sizeof(line), true);
}

void log_vmsg(enum log_level lvl, const char *func, const char *fmt,
              va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_msg(lvl, func, "%s", msg);
}

/*
 * log.h: process-wide logging to stderr, in the OpenBSD log_* shape.
 *
 * Each message is one line, and lines from worker threads never
 * interleave. Text or JSON (log_format). The macros add
 * the calling function's name, so no log string carries a hand-typed one.
 * Callers never pass secrets, passwords, codes or tokens to these functions.
 */
#ifndef LK_LOG_H
#define LK_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERR };

/* format: "text" or "json". Safe to call again; not thread-safe itself. */
void log_init(const char *format, enum log_level min);
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_msg with a va_list; trailing newlines are dropped (libmicrohttpd's
 * messages, which both listeners log through this, end with one). */
void log_vmsg(enum log_level lvl, const char *func, const char *fmt,
              va_list ap);

/* One access-log line per HTTP request (fields already free of secrets;
 * any may be NULL but method and path). */
struct access_line {
	const char *method, *path;
	int status; /* 0: the client went away before an answer */
	const char *addr;       /* the client, after trusted proxies */
	const char *client_id, *grant_type;
	const char *error;      /* the OAuth error code answered */
	const char *request_id; /* X-Request-Id, taken or generated */
	const char *user_agent; /* printable ASCII, bounded, no '"' or '\' */
	double ms;
};
void log_request(const struct access_line *a);

/* Access lines (log_request) go through a buffer written by a thread of
 * its own every 100 ms; every other line is written at once, after what is
 * buffered. start returns -1 (and lines stay unbuffered) when the thread
 * cannot start. stop writes out everything and ends the thread. */
int log_buffer_start(void);
void log_buffer_stop(void);

/* The request the calling thread works for: its client address and
 * request id (both borrowed until the next call; NULL: none). Security
 * lines written meanwhile end with "addr=A request_id=R" (JSON: the keys
 * "addr" and "request_id"), so each names where it came from and meets
 * the request's access line. The server sets it around each call into a
 * request; other threads have none. */
void log_context(const char *addr, const char *request_id);

/* Marks a security-relevant event (reuse detection, throttling, ...). */
#define log_security(...) log_msg(LOG_WARN, "security", __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define log_errx(...) log_msg(LOG_ERR, __func__, __VA_ARGS__)

#endif

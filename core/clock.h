/*
 * clock.h: the one source of "now" for token lifetimes.
 *
 * Everything that stamps or checks an expiry asks clock_now(), so a test
 * double can move time forward without the tokens knowing.
 */
#ifndef LK_CLOCK_H
#define LK_CLOCK_H

#include <stdint.h>

/* A clock of its own: an offset from the wall clock. The process has
 * one; each issuer the test double adds (its tenants) has another, so
 * moving one tenant's time leaves the others' alone. Zeroed is a clock
 * with no offset. */
struct lk_clock {
	_Atomic int64_t offset;
};

/* The clock this thread's calls below use until the next call (NULL:
 * the process's). Set around a request's work by whoever runs it, as
 * the log context is. */
void clock_use(struct lk_clock *c);

int64_t clock_now(void);           /* Unix seconds, plus any offset. */
struct timespec;
/* Milliseconds since t0 (CLOCK_MONOTONIC), for the access log. */
double clock_ms_since(const struct timespec *t0);
void clock_advance(int64_t secs);  /* Adds to the offset (thread-safe). */
void clock_reset(void);
int64_t clock_offset(void);

#endif

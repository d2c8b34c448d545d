/*
 * clock.h: the one source of "now" for token lifetimes.
 *
 * Everything that stamps or checks an expiry asks clock_now(), so a test
 * double can move time forward without the tokens knowing.
 */
#ifndef LK_CLOCK_H
#define LK_CLOCK_H

#include <stdint.h>

int64_t clock_now(void);           /* Unix seconds, plus any offset. */
struct timespec;
/* Milliseconds since t0 (CLOCK_MONOTONIC), for the access log. */
double clock_ms_since(const struct timespec *t0);
void clock_advance(int64_t secs);  /* Adds to the offset (thread-safe). */
void clock_reset(void);
int64_t clock_offset(void);

#endif

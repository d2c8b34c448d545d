/* clock.c: wall clock plus an atomic test offset (see clock.h), the
 * process's or the one a thread was given. */
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "clock.h"

static struct lk_clock process;
static _Thread_local struct lk_clock *current;

static struct lk_clock *here(void)
{
	return current != NULL ? current : &process;
}

void clock_use(struct lk_clock *c) { current = c; }

int64_t clock_now(void)
{
	return (int64_t)time(NULL) + atomic_load(&here()->offset);
}

void clock_advance(int64_t secs) { atomic_fetch_add(&here()->offset, secs); }
void clock_reset(void) { atomic_store(&here()->offset, 0); }
int64_t clock_offset(void) { return atomic_load(&here()->offset); }

double clock_ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* clock.c: wall clock plus an atomic test offset (see clock.h). */
#include "clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t offset;

int64_t clock_now(void)
{
	return (int64_t)time(NULL) + atomic_load(&offset);
}

void clock_advance(int64_t secs) { atomic_fetch_add(&offset, secs); }
void clock_reset(void) { atomic_store(&offset, 0); }
int64_t clock_offset(void) { return atomic_load(&offset); }

double clock_ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

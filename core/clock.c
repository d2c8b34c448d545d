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

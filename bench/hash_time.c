/*
 * hash_time.c: how long one Argon2id password verification takes with the
 * parameters latchkeyd uses, so that docs/performance.md can compare the
 * password grant's throughput with cores / time per hash.
 *
 * Usage: lk_bench_hash [N]   (default 20 verifications, after one warm-up)
 * Prints one JSON line: the parameters and the median and minimum ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "secret.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20;
	if (n < 1 || n > 10000) {
		fprintf(stderr, "usage: lk_bench_hash [N], 1 <= N <= 10000\n");
		return 2;
	}
	struct argon2_cost c;
	secret_get_argon2_cost(&c);
	char *phc = secret_hash_slow("correct horse battery staple");
	if (phc == NULL) {
		fprintf(stderr, "lk_bench_hash: hashing failed\n");
		return 1;
	}
	double *ms = calloc((size_t)n, sizeof(*ms));
	if (ms == NULL)
		return 1;
	(void)secret_verify(phc, "warm-up");
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		if (secret_verify(phc, "correct horse battery staple") != SECRET_OK) {
			fprintf(stderr, "lk_bench_hash: verification failed\n");
			return 1;
		}
		ms[i] = now_ms() - t0;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("{\"t_cost\":%u,\"m_cost_kib\":%u,\"lanes\":%u,\"n\":%d,"
	       "\"median_ms\":%.3f,\"min_ms\":%.3f}\n",
	       c.t_cost, c.m_cost_kib, c.lanes, n, ms[n / 2], ms[0]);
	free(ms);
	crypto_free_str(phc);
	return 0;
}

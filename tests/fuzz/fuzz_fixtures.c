/*
 * fuzz_fixtures.c: testdouble/fixtures.c, which reads latchkeyd's --fixtures
 * JSON file at start and at each /_control/reset. The input is the file.
 *
 * The store is a migrated SQLite file in a private temporary directory,
 * made once and replaced by an empty one after every file that applied,
 * so each input meets an empty store. Secrets are hashed with the fast
 * scheme (--ephemeral's), since Argon2id would make each run take
 * milliseconds.
 *
 * Checks, beyond "no crash, no leak": a refused file says why and changes
 * nothing (fixtures.c promises that a bad file writes nothing); a file
 * that applied applies again (as /_control/reset does).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "testdouble.h"
#include "store.h"

static struct {
	char *dir, *db, *file;
	struct store *st;
} fx;

static void open_store(void)
{
	char err[256] = "";
	int applied, schema;
	if (store_open(fx.db, &fx.st, err, sizeof(err)) != STORE_OK ||
	    store_migrate(fx.st, &applied, &schema, err, sizeof(err)) !=
	        STORE_OK) {
		fprintf(stderr, "fuzz_fixtures: store: %s\n", err);
		abort();
	}
}

/* Closes the store and removes its files. */
static void drop_store(void)
{
	store_close(fx.st);
	fx.st = NULL;
	const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *p = NULL;
		if (asprintf(&p, "%s%s", fx.db, suffixes[i]) < 0)
			abort();
		unlink(p);
		free(p);
	}
}

static void cleanup(void)
{
	drop_store();
	fz_rmtree(fx.dir);
	free(fx.dir);
	free(fx.db);
	free(fx.file);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fx.dir = fz_tmpdir();
	fx.db = fz_path(fx.dir, "fixtures.db");
	fx.file = fz_path(fx.dir, "fixtures.json");
	open_store();
	atexit(cleanup);
	return 0;
}

static int count_row(const void *row, void *arg)
{
	(void)row;
	(*(size_t *)arg)++;
	return 0;
}

static int count_client(const struct store_client *c, void *arg)
{
	return count_row(c, arg);
}

static int count_user(const struct store_user *u, void *arg)
{
	return count_row(u, arg);
}

static size_t stored_rows(void)
{
	size_t n = 0;
	fz_check(store_client_list(fx.st, count_client, &n) == STORE_OK);
	fz_check(store_user_list(fx.st, count_user, &n) == STORE_OK);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	fz_write_file(fx.file, data, size);
	memset(err, 0, sizeof(err));
	int rc = fixtures_apply(fx.st, fx.file, true, err, sizeof(err));
	if (rc != 0) {
		fz_check(rc == -1);
		fz_check(err[0] != '\0');
		fz_check(stored_rows() == 0);
		return 0;
	}
	/* Again, over what it wrote: it must apply (as at each reset). */
	err[0] = '\0';
	rc = fixtures_apply(fx.st, fx.file, true, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "fuzz_fixtures: second apply: %s\n", err);
	fz_check(rc == 0);
	drop_store();
	open_store();
	return 0;
}

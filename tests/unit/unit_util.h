/*
 * unit_util.h: small helpers shared by the cmocka unit tests: a private
 * temporary directory under $LK_TMPDIR (removed again by the test), and a
 * migrated SQLite store inside it.
 *
 * Everything is static inline so a test that uses only part of it still
 * builds under -Werror.
 */
#ifndef LK_UNIT_UTIL_H
#define LK_UNIT_UTIL_H

#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

/* True when s is entirely unpadded base64url alphabet. */
static inline bool ut_is_b64url(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* A new, empty directory; the caller removes it with ut_rmtree and frees
 * the returned path. */
static inline char *ut_tmpdir(void)
{
	const char *base = getenv("LK_TMPDIR");
	char *tmpl = NULL;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	assert_true(asprintf(&tmpl, "%s/lk-unit-XXXXXX", base) > 0);
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

/* "dir/name", caller frees. */
static inline char *ut_path(const char *dir, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* Removes the files directly inside dir (the tests create no
 * subdirectories), then dir itself. */
static inline void ut_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char *p = ut_path(dir, e->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* Opens dir/name as a store and applies every migration. */
static inline struct store *ut_store_open(const char *dir, const char *name)
{
	char err[256] = "";
	struct store *s = NULL;
	char *path = ut_path(dir, name);
	enum store_rc rc = store_open(path, &s, err, sizeof(err));
	free(path);
	if (rc != STORE_OK)
		fail_msg("store_open: %s: %s", store_rc_str(rc), err);
	int applied = -1, schema = -1;
	rc = store_migrate(s, &applied, &schema, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("store_migrate: %s: %s", store_rc_str(rc), err);
	return s;
}

/* Writes text to dir/name; returns the path (caller frees). */
/* The fixture of the store tests (cmocka setup and teardown): a
 * temporary directory with a fresh, migrated store.db. */
struct ut_store_fx {
	char *dir;
	char *path;
	struct store *s;
};

static inline int ut_store_fx_setup(void **state)
{
	struct ut_store_fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = ut_tmpdir();
	f->path = ut_path(f->dir, "store.db");
	f->s = ut_store_open(f->dir, "store.db");
	*state = f;
	return 0;
}

static inline int ut_store_fx_teardown(void **state)
{
	struct ut_store_fx *f = *state;
	store_close(f->s);
	ut_rmtree(f->dir);
	free(f->path);
	free(f->dir);
	free(f);
	return 0;
}

static inline char *ut_write_file(const char *dir, const char *name,
                                  const char *text)
{
	char *p = ut_path(dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return p;
}

#endif

/*
 * unit_util.h: small helpers shared by the cmocka unit tests: a private
 * temporary directory under $LK_TMPDIR (removed again by the test), and a
 * migrated store: a SQLite file inside it, or, in the PostgreSQL pass of
 * ut_run_backends (when LK_TEST_PG names a server), a fresh database
 * lk_unit_<pid>_<n> on that server, dropped again by the teardown.
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
#include <libpq-fe.h>

#include "store.h"

/* The secret_version of client id as it is now (0 when there is none). */
static inline int64_t ut_client_version(struct store *s, const char *id)
{
	struct store_client c = {0};
	int64_t v = store_client_get(s, id, &c) == STORE_OK ? c.secret_version
	                                                    : 0;
	store_client_clear(&c);
	return v;
}

/* store_issue for the issue's client as it is now, as the server issues
 * for the client it just read (an unknown client: STORE_STALE). */
static inline enum store_rc ut_issue(struct store *s,
                                     const struct store_issue *is)
{
	struct store_issue now = *is;
	now.client_version = ut_client_version(s, is->access->client_id);
	return store_issue(s, &now);
}

/* Records one access token the way the server does, through an issue of
 * its own (the store has no method for tests alone). */
static inline enum store_rc ut_token_add(struct store *s,
                                         const struct store_token *t)
{
	struct store_issue is = {.now = t->issued_at, .access = t};
	return ut_issue(s, &is);
}

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

/* ---- PostgreSQL ------------------------------------------------------ */

/* The server of the PostgreSQL pass: LK_TEST_PG, a URI libpq reads (e.g.
 * postgresql:///postgres?host=/tmp/pg.X&port=55432&user=postgres), or
 * NULL. */
static inline const char *ut_pg_uri(void)
{
	const char *u = getenv("LK_TEST_PG");
	return u != NULL && u[0] != '\0' ? u : NULL;
}

/* Whether the store fixtures make PostgreSQL databases (the second pass
 * of ut_run_backends). */
static inline bool *ut_pg_mode(void)
{
	static bool on;
	return &on;
}

/* Runs sql on LK_TEST_PG's database (the admin connection). */
static inline void ut_pg_admin_exec(const char *sql)
{
	PGconn *c = PQconnectdb(ut_pg_uri());
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("LK_TEST_PG: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* LK_TEST_PG's URI with its database replaced by name; caller frees. */
static inline char *ut_pg_uri_for(const char *name)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(ut_pg_uri(), &err);
	if (o == NULL)
		fail_msg("LK_TEST_PG: %s", err ? err : "unreadable");
	size_t cap = 4096, len = 0;
	char *u = calloc(1, cap);
	assert_non_null(u);
	len += (size_t)snprintf(u, cap, "postgresql:///%s", name);
	char sep = '?';
	for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
		if (p->val == NULL || strcmp(p->keyword, "dbname") == 0)
			continue;
		len += (size_t)snprintf(u + len, cap - len, "%c%s=", sep,
		                        p->keyword);
		sep = '&';
		for (const char *v = p->val; *v && len + 4 < cap; v++) {
			unsigned char ch = (unsigned char)*v;
			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || strchr("-._~/", ch))
				u[len++] = (char)ch;
			else
				len += (size_t)snprintf(u + len, cap - len, "%%%02X",
				                        ch);
		}
	}
	assert_true(len + 1 < cap);
	PQconninfoFree(o);
	return u;
}

/* A new, empty database lk_unit_<pid>_<n>: its name into *name and its
 * URI returned (caller frees both; ut_pg_drop removes it). */
static inline char *ut_pg_create(char **name)
{
	static int n;
	char sql[128];
	assert_true(asprintf(name, "lk_unit_%ld_%d", (long)getpid(), ++n) > 0);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", *name);
	ut_pg_admin_exec(sql);
	return ut_pg_uri_for(*name);
}

static inline void ut_pg_drop(const char *name)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	         name);
	ut_pg_admin_exec(sql);
}

/* Opens target and applies every migration. */
static inline struct store *ut_store_open_target(const char *target)
{
	char err[256] = "";
	struct store *s = NULL;
	enum store_rc rc = store_open(target, &s, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("store_open: %s: %s", store_rc_str(rc), err);
	int applied = -1, schema = -1;
	rc = store_migrate(s, &applied, &schema, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("store_migrate: %s: %s", store_rc_str(rc), err);
	return s;
}

/* Opens dir/name as a (SQLite) store and applies every migration. */
static inline struct store *ut_store_open(const char *dir, const char *name)
{
	char *path = ut_path(dir, name);
	struct store *s = ut_store_open_target(path);
	free(path);
	return s;
}

/* Runs the group on SQLite, then again on PostgreSQL when LK_TEST_PG is
 * set, so both backends must give the same answers to the same tests.
 * Tests of what only SQLite has go in a group of their own. */
#define ut_run_backends(tests)                                            \
	(cmocka_run_group_tests_name("sqlite", tests, NULL, NULL) |       \
	 (ut_pg_uri() != NULL                                             \
	      ? (*ut_pg_mode() = true,                                    \
	         cmocka_run_group_tests_name("postgresql", tests, NULL,   \
	                                     NULL))                       \
	      : (printf("LK_TEST_PG unset: the PostgreSQL pass is "       \
	                "skipped\n"), 0)))

/* The fixture of the store tests (cmocka setup and teardown): a
 * temporary directory, and a fresh, migrated store: dir/store.db, or in
 * the PostgreSQL pass a new database (path is then its URI). */
struct ut_store_fx {
	char *dir;
	char *path;
	struct store *s;
	char *pg_db; /* the database's name in the PostgreSQL pass, else NULL */
};

static inline int ut_store_fx_setup(void **state)
{
	struct ut_store_fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = ut_tmpdir();
	if (*ut_pg_mode())
		f->path = ut_pg_create(&f->pg_db);
	else
		f->path = ut_path(f->dir, "store.db");
	f->s = ut_store_open_target(f->path);
	*state = f;
	return 0;
}

static inline int ut_store_fx_teardown(void **state)
{
	struct ut_store_fx *f = *state;
	store_close(f->s);
	if (f->pg_db != NULL)
		ut_pg_drop(f->pg_db);
	ut_rmtree(f->dir);
	free(f->pg_db);
	free(f->path);
	free(f->dir);
	free(f);
	return 0;
}

/* Writes text to dir/name; returns the path (caller frees). */
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

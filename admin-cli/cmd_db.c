/*
 * cmd_db.c: `latchkey purge`, `latchkey backup` and `latchkey copy`, the
 * commands about the database rather than what is in it.
 *
 * All are thin: what is purged, how a copy is made safely beside a
 * running server, and what a copy moves between backends are the
 * store's (store_purge, store_backup, store_copy in store.h).
 * These report the result, as text or with --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "strutil.h"

/* ---- purge -------------------------------------------------------------- */

int cmd_purge(struct adm_ctx *ctx)
{
	struct store_purge_counts c;
	enum store_rc r = store_purge(ctx->store, clock_now(), &c);
	long long at = (long long)c.access_tokens;
	long long rt = (long long)c.refresh_tokens;
	long long codes = (long long)c.codes, sessions = (long long)c.sessions;
	long long keys = (long long)c.throttle_keys;
	long long prev = (long long)c.previous_secrets;
	long long jtis = (long long)c.used_jtis;
	long long devices = (long long)c.device_codes;
	int64_t audit = 0;
	long keep = ctx->cfg != NULL ? ctx->cfg->audit_retention : 0;
	if (r == STORE_OK && keep > 0)
		r = store_audit_purge(ctx->store, clock_now() - keep, &audit);

	if (r != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "purging: %s (after %lld "
		                "record(s) were deleted; run it again)",
		                store_rc_str(r),
		                at + rt + codes + sessions + keys + prev + jtis +
		                    devices);
	if (ctx->json) {
		adm_json_print(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		                         "s:I, s:I}",
		                         "access_tokens", (json_int_t)at,
		                         "refresh_tokens", (json_int_t)rt,
		                         "authorization_codes",
		                         (json_int_t)codes,
		                         "sessions", (json_int_t)sessions,
		                         "throttle_keys", (json_int_t)keys,
		                         "previous_secrets", (json_int_t)prev,
		                         "used_jtis", (json_int_t)jtis,
		                         "device_codes", (json_int_t)devices,
		                         "audit_events", (json_int_t)audit));
		return ADM_EXIT_OK;
	}
	/* Throttle rows exist on PostgreSQL only: named when some went, so
	 * the line stays what scripts on SQLite read. */
	printf("purged %lld access token(s), %lld refresh token(s), %lld "
	       "authorization code(s), %lld session(s)", at, rt, codes,
	       sessions);
	if (keys > 0)
		printf(", %lld throttle key(s)", keys);
	if (prev > 0)
		printf(", %lld expired previous secret(s)", prev);
	if (jtis > 0)
		printf(", %lld used assertion id(s)", jtis);
	if (devices > 0)
		printf(", %lld device code(s)", devices);
	if (audit > 0)
		printf(", %lld audit event(s)", (long long)audit);
	printf("\n");
	return ADM_EXIT_OK;
}

/* ---- backup ------------------------------------------------------------- */

int cmd_backup(struct adm_ctx *ctx)
{
	const char *file = ctx->argv[0];
	const char *db = ctx->db;
	struct store_backup_info info;
	char err[768] = "", shown[512];
	/* --db may be a URI with a password: only this is shown. */
	store_target_redact(db, shown, sizeof(shown));
	enum store_rc r = store_backup(ctx->store, file,
	                               adm_has(ctx->args, OPT_FORCE), &info,
	                               err, sizeof(err));

	if (r == STORE_CONFLICT)
		return adm_fail(ADM_EXIT_RUNTIME, "%s (--force replaces it)",
		                err);
	if (r != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "backup of '%s' failed: %s",
		                shown, err[0] ? err : store_rc_str(r));
	if (ctx->json) {
		adm_json_print(json_pack("{s:o, s:o, s:I, s:I, s:s}",
		                         "database", adm_json_str(shown),
		                         "backup", adm_json_str(file),
		                         "bytes", (json_int_t)info.bytes,
		                         "pages", (json_int_t)info.pages,
		                         "integrity_check", "ok"));
		return ADM_EXIT_OK;
	}
	printf("backed up '%s' to '%s': %lld bytes, integrity check ok\n", shown,
	       file, (long long)info.bytes);
	return ADM_EXIT_OK;
}

/* ---- copy --------------------------------------------------------------- */

/* Whether two targets name one database: the same URI text, or the same
 * file (which --to need not be yet). Other spellings of one PostgreSQL
 * database are caught by the copy itself: the source's rows make the
 * destination not empty. */
/* The file of a SQLite target ("sqlite:PATH" or PATH). */
static const char *sqlite_file(const char *target)
{
	return strncmp(target, "sqlite:", 7) == 0 ? target + 7 : target;
}

static bool same_target(const char *a, const char *b)
{
	struct stat sa, sb;
	if (store_target_is_pg(a) || store_target_is_pg(b))
		return strcmp(a, b) == 0;
	a = sqlite_file(a);
	b = sqlite_file(b);
	return strcmp(a, b) == 0 ||
	       (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	        sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

/* Opens one side of the copy, naming it (redacted) in any message. */
static int open_side(const char *target, const char *side, const char *shown,
                     bool migrate_it, struct store **out)
{
	static const struct store_options durable = {
		.durability = STORE_DURABILITY_FULL,
	};
	char err[512] = "";
	int applied, schema;
	if (!store_target_is_pg(target) && !migrate_it &&
	    access(sqlite_file(target), F_OK) != 0)
		return adm_fail(ADM_EXIT_RUNTIME, "%s '%s': %s", side, shown,
		                strerror(errno));
	enum store_rc r = store_open_with(target, &durable, out, err,
	                                  sizeof(err));
	if (r == STORE_OK && migrate_it) {
		r = store_migrate(*out, &applied, &schema, err, sizeof(err));
		if (r != STORE_OK) {
			store_close(*out);
			*out = NULL;
		}
	}
	if (r != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "%s '%s': %s", side, shown,
		                err[0] ? err : store_rc_str(r));
	return ADM_EXIT_OK;
}

static void print_counts(const struct adm_ctx *ctx, const char *from,
                         const char *to, const int64_t *counts,
                         double seconds)
{
	if (!ctx->json) {
		printf("copied '%s' to '%s' in %.1f s:\n", from, to, seconds);
		for (size_t i = 0; i < store_copy_ntables; i++)
			printf("  %-20s %lld\n", store_copy_tables[i].name,
			       (long long)counts[i]);
		return;
	}
	json_t *tables = json_array(), *excluded = json_array();
	for (size_t i = 0; i < store_copy_ntables; i++) {
		const struct store_copy_table *t = &store_copy_tables[i];
		json_t *cols = json_array();
		for (int k = 0; k < t->ncols; k++)
			json_array_append_new(cols, json_string(t->cols[k].name));
		json_array_append_new(tables, json_pack(
		    "{s:s, s:I, s:o}", "table", t->name, "rows",
		    (json_int_t)counts[i], "columns", cols));
	}
	for (size_t i = 0; i < store_copy_nexcluded; i++)
		json_array_append_new(excluded, json_pack(
		    "{s:s, s:s}", "table", store_copy_excluded[i].table,
		    "reason", store_copy_excluded[i].reason));
	adm_json_print(json_pack("{s:o, s:o, s:I, s:o, s:o}", "from",
	                         adm_json_str(from), "to", adm_json_str(to),
	                         "ms", (json_int_t)(seconds * 1000), "tables", tables,
	                         "excluded", excluded));
}

int cmd_copy(struct adm_ctx *ctx)
{
	const char *from = adm_str(ctx->args, OPT_FROM);
	const char *to = adm_str(ctx->args, OPT_TO);
	char from_shown[512], to_shown[512], err[1024] = "";
	int64_t *counts = NULL;
	struct store *src = NULL, *dst = NULL;
	struct timespec t0, t1;

	if (from == NULL || to == NULL)
		return adm_fail(ADM_EXIT_USAGE, "copy needs --from SOURCE and "
		                "--to DEST");
	/* Either may be a URI with a password: only these are shown. */
	store_target_redact(from, from_shown, sizeof(from_shown));
	store_target_redact(to, to_shown, sizeof(to_shown));
	if (same_target(from, to))
		return adm_fail(ADM_EXIT_USAGE, "--from and --to name the same "
		                "database ('%s')", from_shown);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = open_side(from, "source", from_shown, false, &src);
	if (rc == ADM_EXIT_OK)
		rc = open_side(to, "destination", to_shown, true, &dst);
	if (rc == ADM_EXIT_OK) {
		counts = xcalloc(store_copy_ntables, sizeof(*counts));
		enum store_rc r = store_copy(src, dst, counts, err, sizeof(err));
		if (r != STORE_OK)
			rc = adm_fail(ADM_EXIT_RUNTIME, "copy from '%s' to '%s' "
			              "failed, nothing was written: %s", from_shown,
			              to_shown, err[0] ? err : store_rc_str(r));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == ADM_EXIT_OK)
		print_counts(ctx, from_shown, to_shown, counts,
		             (double)(t1.tv_sec - t0.tv_sec) +
		                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (src != NULL)
		store_close(src);
	if (dst != NULL)
		store_close(dst);
	free(counts);
	return rc;
}

/*
 * cmd_db.c: `latchkey purge` and `latchkey backup`, the commands about the
 * database file rather than what is in it.
 *
 * Both are thin: what is purged, and how a copy is made safely beside a
 * running server, is the store's (store_purge, store_backup in store.h).
 * These report the result, as text or with --json.
 */
#include <stdio.h>

#include "cli.h"
#include "clock.h"

/* ---- purge -------------------------------------------------------------- */

int cmd_purge(struct adm_ctx *ctx)
{
	struct store_purge_counts c;
	enum store_rc r = store_purge(ctx->store, clock_now(), &c);
	long long at = (long long)c.access_tokens;
	long long rt = (long long)c.refresh_tokens;
	long long codes = (long long)c.codes, sessions = (long long)c.sessions;

	if (r != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "purging: %s (after %lld "
		                "record(s) were deleted; run it again)",
		                store_rc_str(r), at + rt + codes + sessions);
	if (ctx->json) {
		adm_json_print(json_pack("{s:I, s:I, s:I, s:I}",
		                         "access_tokens", (json_int_t)at,
		                         "refresh_tokens", (json_int_t)rt,
		                         "authorization_codes",
		                         (json_int_t)codes,
		                         "sessions", (json_int_t)sessions));
		return ADM_EXIT_OK;
	}
	printf("purged %lld access token(s), %lld refresh token(s), %lld "
	       "authorization code(s), %lld session(s)\n", at, rt, codes,
	       sessions);
	return ADM_EXIT_OK;
}

/* ---- backup ------------------------------------------------------------- */

int cmd_backup(struct adm_ctx *ctx)
{
	const char *file = ctx->argv[0];
	const char *db = adm_db_path(ctx->args);
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

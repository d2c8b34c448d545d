/*
 * cmd_session.c: `latchkey session list|revoke`, over the login sessions
 * the server keeps: a browser's sign-in at /authorize (its lk_session
 * cookie), whose public id (sid) is the sid claim of the ID tokens issued
 * from it.
 *
 * The server writes sessions; this file only shows and ends them. Ending
 * one makes the browser sign in again at its next /authorize (prompt=none
 * then gets login_required). It leaves tokens already issued alone: those
 * are `token revoke`'s.
 */
#include <stdio.h>

#include "cli.h"
#include "clock.h"
#include "strutil.h"

static int list_one(const struct store_session *se, void *arg)
{
	char auth[ADM_TIME_LEN], expires[ADM_TIME_LEN];
	json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:I, s:o}",
	                      "sid", adm_json_str(se->sid),
	                      "username", adm_json_str(se->username),
	                      "user_id", adm_json_str(se->user_id),
	                      "auth_time", (json_int_t)se->auth_time,
	                      "expires_at", (json_int_t)se->expires_at,
	                      "amr", store_json_words(se->amr));
	const char *cells[] = {
		se->sid,
		se->username,
		adm_time(se->auth_time, auth),
		adm_time(se->expires_at, expires),
	};
	adm_listing_add(arg, o, cells);
	return 0;
}

int cmd_session_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"SID", "USERNAME", "AUTH_TIME", "EXPIRES",
	};
	struct store_user u = {0};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 4, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	rc = adm_filter_lookup(ctx, &u);
	if (rc != ADM_EXIT_OK)
		adm_listing_end(&l, false); /* the lookup said why */
	else
		rc = adm_listing_done(&l, store_session_list(ctx->store,
		                              u.user_id, clock_now(), &l.page,
		                              list_one, &l),
		                      "listing sessions");
	store_user_clear(&u);
	return rc;
}

/* Exactly one of --user and --id: ending every session of every user is
 * not something to do by leaving out an option. */
int cmd_session_revoke(struct adm_ctx *ctx)
{
	const char *username = adm_str(ctx->args, OPT_USER);
	const char *sid = adm_str(ctx->args, OPT_ID);
	struct store_user u = {0};
	int n = 0;
	if ((username == NULL) == (sid == NULL))
		return adm_fail(ADM_EXIT_USAGE, "'session revoke' needs exactly "
		                "one of --user NAME and --id SID");
	int rc = ADM_EXIT_OK;
	enum store_rc r;
	if (sid != NULL) {
		r = store_session_end(ctx->store, sid, &n);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "ending the session");
		else if (n == 0)
			rc = adm_fail(ADM_EXIT_RUNTIME, "session '%s' not found",
			              sid);
	} else {
		rc = adm_user_get(ctx->store, username, &u);
		if (rc == ADM_EXIT_OK &&
		    (r = store_sessions_end_user(ctx->store, u.user_id, &n)) !=
		        STORE_OK)
			rc = adm_store_fail(r, "ending the sessions");
	}
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(json_pack("{s:o, s:o, s:i}",
		                         "username", adm_json_str(username),
		                         "sid", adm_json_str(sid), "ended", n));
	else if (rc == ADM_EXIT_OK && sid != NULL)
		printf("ended session %s\n", sid);
	else if (rc == ADM_EXIT_OK)
		printf("ended %d session(s) of user '%s'\n", n, username);
	if (rc == ADM_EXIT_OK && n > 0) {
		char object[300];
		snprintf(object, sizeof(object), "%s:%s",
		         sid != NULL ? "session" : "user",
		         sid != NULL ? sid : username);
		rc = adm_audit(ctx, "session.revoke", object,
		               json_pack("{s:{s:n, s:i}}", "sessions_ended",
		                         "old", "new", n));
	}
	store_user_clear(&u);
	return rc;
}

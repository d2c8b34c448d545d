/*
 * cmd_token.c: `latchkey token list|revoke`, over the records of issued
 * access and refresh tokens (the tokens themselves are never stored; a
 * refresh token only as a hash, which is never printed either).
 *
 * A token's status is derived from its record at one `now`
 * (store_token_status). Revoking only marks the records; a resource server
 * sees it through introspection, and the token endpoint refuses a revoked
 * refresh token.
 */
#include <stdio.h>

#include "cli.h"
#include "clock.h"

/* ---- token list --------------------------------------------------------- */

struct token_listing {
	struct adm_listing l;
	int64_t now;
};

/* The status column is the JSON's: one verdict per record, at tl->now. */
static const char *status_of(const json_t *o)
{
	return json_string_value(json_object_get(o, "status"));
}

static int list_access(const struct store_token *t, void *arg)
{
	struct token_listing *tl = arg;
	char iat[ADM_TIME_LEN], exp[ADM_TIME_LEN];
	json_t *o = token_json_access(t, tl->now, TOKEN_JSON_RECORD);
	/* FAMILY comes last, so the columns that were there before it keep
	 * their places for scripts that cut them. */
	const char *cells[] = {
		t->jti, t->client_id, t->subject, t->scope,
		adm_time(t->issued_at, iat), adm_time(t->expires_at, exp),
		status_of(o), t->family_id,
	};
	adm_listing_add(&tl->l, o, cells);
	return 0;
}

static int list_refresh(const struct store_refresh *r, void *arg)
{
	struct token_listing *tl = arg;
	char iat[ADM_TIME_LEN], exp[ADM_TIME_LEN];
	json_t *o = token_json_refresh(r, tl->now, TOKEN_JSON_RECORD);
	const char *cells[] = {
		r->family_id, r->client_id, r->subject, r->username, r->scope,
		adm_time(r->issued_at, iat), adm_time(r->expires_at, exp),
		status_of(o),
	};
	adm_listing_add(&tl->l, o, cells);
	return 0;
}

static const char *const access_header[] = {
	"JTI", "CLIENT_ID", "SUBJECT", "SCOPE", "ISSUED", "EXPIRES", "STATUS",
	"FAMILY",
};
static const char *const refresh_header[] = {
	"FAMILY", "CLIENT_ID", "SUBJECT", "USERNAME", "SCOPE", "ISSUED",
	"EXPIRES", "STATUS",
};

int cmd_token_list(struct adm_ctx *ctx)
{
	const char *client_id = adm_str(ctx->args, OPT_CLIENT);
	const char *family_id = adm_str(ctx->args, OPT_FAMILY);
	bool active_only = adm_has(ctx->args, OPT_ACTIVE);
	bool refresh = adm_has(ctx->args, OPT_REFRESH);
	struct token_listing tl = {.now = clock_now()};
	struct store_user u = {0};
	enum store_rc r = STORE_OK;
	int rc = adm_listing_init(&tl.l, ctx, 8,
	                          refresh ? refresh_header : access_header);
	if (rc != ADM_EXIT_OK)
		return rc;
	rc = adm_filter_lookup(ctx, &u);

	/* A user's tokens carry its user_id as their subject. */
	if (rc == ADM_EXIT_OK && refresh) {
		struct store_refresh_filter f = {
			.page = &tl.l.page, .client_id = client_id,
			.subject = u.user_id, .family_id = family_id,
			.active_only = active_only, .now = tl.now,
		};
		r = store_refresh_list(ctx->store, &f, list_refresh, &tl);
	} else if (rc == ADM_EXIT_OK) {
		struct store_token_filter f = {
			.page = &tl.l.page, .client_id = client_id,
			.subject = u.user_id, .family_id = family_id,
			.active_only = active_only, .now = tl.now,
		};
		r = store_token_list(ctx->store, &f, list_access, &tl);
	}
	if (rc != ADM_EXIT_OK)
		adm_listing_end(&tl.l, false); /* the lookup said why */
	else
		rc = adm_listing_done(&tl.l, r, refresh ? "listing refresh tokens"
		                                        : "listing tokens");
	store_user_clear(&u);
	return rc;
}

/* ---- token revoke ------------------------------------------------------- */

/* Prints the outcome of revoking everything of one client, family or
 * user: what ("client"), the JSON key naming it, its name, the count. */
/* The audit trail's record of a revocation of n tokens of what:name
 * (none revoked: nothing changed, nothing recorded). */
static int audit_revoked(const struct adm_ctx *ctx, const char *what,
                         const char *name, int n, int ended)
{
	if (n == 0 && ended == 0)
		return ADM_EXIT_OK;
	char object[320];
	snprintf(object, sizeof(object), "%s:%s", what, name);
	json_t *ch = json_pack("{s:{s:n, s:i}}", "revoked_tokens", "old", "new",
	                       n);
	if (ended > 0)
		json_object_set_new(ch, "sessions_ended",
		                    json_pack("{s:n, s:i}", "old", "new", ended));
	return adm_audit(ctx, "token.revoke", object, ch);
}

static int print_revoked(const struct adm_ctx *ctx, const char *what,
                         const char *key, const char *name, int n)
{
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:i}", key, adm_json_str(name),
		                         "revoked", n));
	else
		printf("revoked %d token(s) of %s '%s'\n", n, what, name);
	return audit_revoked(ctx, what, name, n, 0);
}

static int revoke_client(struct adm_ctx *ctx, const char *id)
{
	struct store_client c = {0};
	int n = 0;
	int rc = adm_client_get(ctx->store, id, &c);
	store_client_clear(&c);
	if (rc != ADM_EXIT_OK)
		return rc;
	enum store_rc r = store_token_revoke_client(ctx->store, id, clock_now(),
	                                            &n);
	if (r != STORE_OK)
		return adm_store_fail(r, "revoking the tokens");
	return print_revoked(ctx, "client", "client_id", id, n);
	return ADM_EXIT_OK;
}

static int found_one(const struct store_refresh *r, void *arg)
{
	(void)r;
	*(bool *)arg = true;
	return 1; /* one row answers the question */
}

/* A family exists while a refresh token of it does: the grants write the
 * first refresh token together with the family's first access token. */
static int revoke_family(struct adm_ctx *ctx, const char *family_id)
{
	struct store_refresh_filter f = {.family_id = family_id};
	bool found = false;
	int n = 0;
	enum store_rc r = store_refresh_list(ctx->store, &f, found_one, &found);
	if (r != STORE_OK)
		return adm_store_fail(r, "reading the family");
	if (!found)
		return adm_fail(ADM_EXIT_RUNTIME, "family '%s' not found",
		                family_id);
	r = store_family_revoke(ctx->store, family_id, clock_now(), &n);
	if (r != STORE_OK)
		return adm_store_fail(r, "revoking the family");
	return print_revoked(ctx, "family", "family_id", family_id, n);
}

/* Signs the user out everywhere: its tokens, and its browser sessions at
 * /authorize (else a session could fetch new codes at once). */
static int revoke_user(struct adm_ctx *ctx, const char *username)
{
	struct store_user u = {0};
	int n = 0, ended = 0;
	int rc = adm_user_get(ctx->store, username, &u);
	if (rc == ADM_EXIT_OK) {
		enum store_rc r = store_subject_revoke(ctx->store, u.user_id,
		                                       clock_now(), &n);
		if (r == STORE_OK)
			r = store_sessions_end_user(ctx->store, u.user_id, &ended);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "revoking the user's tokens");
	}
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(json_pack("{s:o, s:i, s:i}", "username",
		                         adm_json_str(username), "revoked", n,
		                         "sessions_ended", ended));
	else if (rc == ADM_EXIT_OK)
		printf("revoked %d token(s) of user '%s'; ended %d browser "
		       "session(s)\n", n, username, ended);
	if (rc == ADM_EXIT_OK)
		rc = audit_revoked(ctx, "user", username, n, ended);
	store_user_clear(&u);
	return rc;
}

/* Revokes first and looks second, so two admins revoking at once cannot
 * both report the change: a count of 0 means unknown or already revoked,
 * and the record says which. */
static int revoke_one(struct adm_ctx *ctx, const char *jti)
{
	struct store_token t = {0};
	int64_t now = clock_now();
	int n = 0;
	enum store_rc r = store_token_revoke(ctx->store, jti, now, &n);
	if (r != STORE_OK)
		return adm_store_fail(r, "revoking the token");
	if (n == 0) {
		r = store_token_get(ctx->store, jti, &t);
		if (r == STORE_NOT_FOUND)
			return adm_fail(ADM_EXIT_RUNTIME,
			                "token '%s' not found", jti);
		if (r != STORE_OK)
			return adm_store_fail(r, "reading the token");
		now = t.revoked_at;
		store_token_clear(&t);
	}
	char at[ADM_TIME_LEN];
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:I, s:b}", "jti",
		                         adm_json_str(jti), "revoked_at",
		                         (json_int_t)now, "already_revoked",
		                         n == 0));
	else if (n == 0)
		printf("token '%s' was already revoked at %s\n", jti,
		       adm_time(now, at));
	else
		printf("revoked token '%s'\n", jti);
	return audit_revoked(ctx, "token", jti, n, 0);
}

/* What `token revoke` can revoke; exactly one is given. */
static const struct revoke_target {
	enum adm_opt opt; /* ADM_OPT__MAX: the JTI argument */
	const char *name; /* in messages */
	int (*fn)(struct adm_ctx *ctx, const char *value);
} revoke_targets[] = {
	{ADM_OPT__MAX, "a JTI", revoke_one},
	{OPT_CLIENT, "--client", revoke_client},
	{OPT_FAMILY, "--family", revoke_family},
	{OPT_USER, "--user", revoke_user},
};
#define NREVOKE_TARGETS (sizeof(revoke_targets) / sizeof(revoke_targets[0]))

int cmd_token_revoke(struct adm_ctx *ctx)
{
	const struct revoke_target *given[NREVOKE_TARGETS];
	const char *value[NREVOKE_TARGETS];
	size_t n = 0;
	for (size_t i = 0; i < NREVOKE_TARGETS; i++) {
		const struct revoke_target *t = &revoke_targets[i];
		const char *v = t->opt == ADM_OPT__MAX
		                    ? (ctx->argc > 0 ? ctx->argv[0] : NULL)
		                    : adm_str(ctx->args, t->opt);
		if (v != NULL) {
			given[n] = t;
			value[n++] = v;
		}
	}
	if (n > 1)
		return adm_fail(ADM_EXIT_USAGE, "give either %s or %s, not both",
		                given[0]->name, given[1]->name);
	if (n == 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "'token revoke' needs a JTI, --client ID, "
		                "--family ID or --user NAME");
	return given[0]->fn(ctx, value[0]);
}

/*
 * cmd_user.c: `latchkey user add|passwd|update|show|remove|list`, the
 * resource owners of the password and authorization code grants.
 *
 * A password is read from stdin or the terminal (cli_util.c), hashed with
 * Argon2id and wiped; only the PHC hash reaches the store. A user's stable
 * subject identifier is user_id ("u_" and 96 random bits), never the
 * username, so a user re-created under the same name is a new subject.
 *
 * A user's claims (OpenID Connect: email, name, groups, ...) are set with
 * --claim KEY=VALUE and removed with --unset-claim KEY, one key at a time
 * (shared/DECISIONS.md); what a claim may be is claim_spec.c's, which
 * client gets which claim is grants/claims.c's (docs/openid-connect.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "secret.h"
#include "strutil.h"

/* Never the password hash. Unreadable stored claims show as null. */
static json_t *user_json(const struct store_user *u)
{
	return store_user_json(u);
}

/* Records a change of user name (before, after: its JSON, either NULL;
 * extra: more changes to name; all taken). */
static int audit_user(const struct adm_ctx *ctx, const char *action,
                      const char *name, json_t *before, json_t *after,
                      json_t *extra)
{
	char object[300];
	snprintf(object, sizeof(object), "user:%s", name);
	json_t *ch = adm_changes(before, after);
	if (extra != NULL) {
		json_object_update(ch, extra);
		json_decref(extra);
	}
	return adm_audit(ctx, action, object, ch);
}

static int check_username(const char *name)
{
	if (valid_username(name))
		return ADM_EXIT_OK;
	return adm_fail(ADM_EXIT_USAGE,
	                "invalid username '%s': " VALID_USERNAME_RULE, name);
}

/* Reads the new password and hashes it into *hash (caller frees). The
 * plaintext lives only in a stack buffer that is wiped here. */
static int read_password_hash(const struct adm_ctx *ctx, char **hash)
{
	char pw[ADM_PASSWORD_BUF];
	int rc = adm_read_password(adm_has(ctx->args, OPT_PASSWORD_STDIN), pw);
	*hash = NULL;
	if (rc == ADM_EXIT_OK) {
		*hash = secret_hash_slow(pw);
		if (*hash == NULL)
			rc = adm_fail(ADM_EXIT_RUNTIME,
			              "cannot hash the password");
	}
	crypto_wipe(pw, sizeof(pw));
	return rc;
}

/* Looks the user up; want_exists says which outcome is the error. Checked
 * before the password is asked for, so nobody types one in vain. */
static int expect_user(struct store *s, const char *name, bool want_exists)
{
	struct store_user u = {0};
	int rc;
	if (want_exists) {
		rc = adm_user_get(s, name, &u);
		store_user_clear(&u);
		return rc;
	}
	enum store_rc r = store_user_get(s, name, &u);
	store_user_clear(&u);
	if (r == STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "user '%s' already exists",
		                name);
	if (r != STORE_NOT_FOUND)
		return adm_store_fail(r, "reading the user");
	return ADM_EXIT_OK;
}

int cmd_user_add(struct adm_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct store_user u = {0};

	/* The claims are checked before the password is asked for. */
	int rc = check_username(name);
	if (rc == ADM_EXIT_OK)
		rc = adm_claims_apply(NULL, &ctx->args->opt[OPT_CLAIM], NULL,
		                      "claim", &u.claims);
	if (rc == ADM_EXIT_OK)
		rc = expect_user(ctx->store, name, false);
	if (rc == ADM_EXIT_OK)
		rc = read_password_hash(ctx, &u.password_hash);
	if (rc == ADM_EXIT_OK) {
		u.user_id = crypto_random_user_id();
		if (u.user_id == NULL)
			rc = adm_fail(ADM_EXIT_RUNTIME,
			              "cannot generate a user id");
	}
	if (rc == ADM_EXIT_OK) {
		u.username = xstrdup(name);
		u.created_at = u.updated_at = clock_now();
		enum store_rc r = store_user_add(ctx->store, &u);
		if (r == STORE_CONFLICT) /* added since expect_user looked */
			rc = adm_fail(ADM_EXIT_RUNTIME,
			              "user '%s' already exists", name);
		else if (r != STORE_OK)
			rc = adm_store_fail(r, "adding the user");
	}
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(user_json(&u));
	else if (rc == ADM_EXIT_OK)
		printf("added user '%s' (user_id %s)\n", u.username, u.user_id);
	if (rc == ADM_EXIT_OK)
		rc = audit_user(ctx, "user.add", name, NULL, user_json(&u),
		                json_pack("{s:{s:n, s:s}}", "password", "old",
		                          "new", "(set)"));
	store_user_clear(&u);
	return rc;
}

int cmd_user_passwd(struct adm_ctx *ctx)
{
	const char *name = ctx->argv[0];
	char *hash = NULL;
	int64_t now = clock_now();

	int rc = expect_user(ctx->store, name, true);
	if (rc == ADM_EXIT_OK)
		rc = read_password_hash(ctx, &hash);
	if (rc == ADM_EXIT_OK) {
		enum store_rc r = store_user_set_password(ctx->store, name,
		                                          hash, now);
		/* not found: removed since expect_user looked */
		rc = adm_store_check(r, "user", name, "storing the password");
	}
	/* A new password ends the user's browser sessions: whoever knew the
	 * old one must not stay signed in at /authorize. */
	int ended = 0;
	struct store_user u = {0};
	if (rc == ADM_EXIT_OK) {
		rc = adm_user_get(ctx->store, name, &u);
		enum store_rc r = rc == ADM_EXIT_OK
		                      ? store_sessions_end_user(ctx->store,
		                                                u.user_id, &ended)
		                      : STORE_OK;
		if (r != STORE_OK)
			rc = adm_store_fail(r, "ending the user's sessions");
		store_user_clear(&u);
	}
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(json_pack("{s:o, s:I, s:i}", "username",
		                         adm_json_str(name), "updated_at",
		                         (json_int_t)now, "sessions_ended", ended));
	else if (rc == ADM_EXIT_OK)
		printf("changed the password of user '%s'; ended %d browser "
		       "session(s)\n", name, ended);
	if (rc == ADM_EXIT_OK)
		rc = audit_user(ctx, "user.passwd", name, NULL, NULL,
		                json_pack("{s:{s:s, s:s}, s:{s:n, s:i}}",
		                          "password", "old", "(replaced)", "new",
		                          "(set)", "sessions_ended", "old", "new",
		                          ended));
	crypto_free_str(hash);
	return rc;
}

int cmd_user_remove(struct adm_ctx *ctx)
{
	const char *name = ctx->argv[0];
	struct store_user u = {0};
	int n = 0;
	/* The user goes first, so no login can slip in between; then its
	 * tokens, found by the user id read before. */
	int rc = adm_user_get(ctx->store, name, &u);
	if (rc != ADM_EXIT_OK)
		return rc;
	json_t *before = user_json(&u);
	enum store_rc r = store_user_remove(ctx->store, name);
	if (r == STORE_OK)
		r = store_subject_revoke(ctx->store, u.user_id, clock_now(), &n);
	store_user_clear(&u);
	rc = adm_store_check(r, "user", name, "removing the user and its tokens");
	if (rc != ADM_EXIT_OK) {
		json_decref(before);
		return rc;
	}
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:b, s:i}", "username",
		                         adm_json_str(name), "removed", 1,
		                         "revoked_tokens", n));
	else
		printf("removed user '%s'; revoked %d token(s)\n", name, n);
	return audit_user(ctx, "user.remove", name, before, NULL,
	                  json_pack("{s:{s:n, s:i}}", "revoked_tokens", "old",
	                            "new", n));
}

/* Prints one user, with --json or as "field  value" lines. */
static void user_print(const struct adm_ctx *ctx, const struct store_user *u)
{
	if (ctx->json) {
		adm_json_print(user_json(u));
		return;
	}
	char created[ADM_TIME_LEN], updated[ADM_TIME_LEN];
	const char *const rows[][2] = {
		{"username", u->username},
		{"user_id", u->user_id},
		{"claims", u->claims != NULL && *u->claims ? u->claims : "{}"},
		{"created", adm_time(u->created_at, created)},
		{"updated", adm_time(u->updated_at, updated)},
	};
	struct adm_table t;
	adm_table_init(&t, 2, NULL);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		adm_table_add(&t, rows[i]);
	adm_table_end(&t, true);
}

int cmd_user_show(struct adm_ctx *ctx)
{
	struct store_user u = {0};
	int rc = adm_user_get(ctx->store, ctx->argv[0], &u);
	if (rc == ADM_EXIT_OK)
		user_print(ctx, &u);
	store_user_clear(&u);
	return rc;
}

/* --claim merges per key and --unset-claim removes one; the other keys
 * stay as they are (shared/DECISIONS.md, "OpenID Connect"). */
int cmd_user_update(struct adm_ctx *ctx)
{
	const struct adm_args *a = ctx->args;
	const char *name = ctx->argv[0];
	struct store_user u = {0};
	char *claims = NULL;
	int64_t now = clock_now();
	if (!adm_has(a, OPT_CLAIM) && !adm_has(a, OPT_UNSET_CLAIM))
		return adm_fail(ADM_EXIT_USAGE, "nothing to update: give at "
		                "least one of --claim, --unset-claim");
	int rc = adm_user_get(ctx->store, name, &u);
	json_t *before = rc == ADM_EXIT_OK ? user_json(&u) : NULL;
	if (rc == ADM_EXIT_OK)
		rc = adm_claims_apply(u.claims, &a->opt[OPT_CLAIM],
		                      &a->opt[OPT_UNSET_CLAIM], "claim", &claims);
	if (rc == ADM_EXIT_OK)
		rc = adm_store_check(store_user_set_claims(ctx->store, name,
		                                           claims, now),
		                     "user", name, "storing the claims");
	if (rc == ADM_EXIT_OK) {
		free(u.claims);
		u.claims = claims;
		claims = NULL;
		u.updated_at = now;
		user_print(ctx, &u);
		rc = audit_user(ctx, "user.update", name, before, user_json(&u),
		                NULL);
		before = NULL;
	}
	json_decref(before);
	free(claims);
	store_user_clear(&u);
	return rc;
}

static int list_one(const struct store_user *u, void *arg)
{
	char created[ADM_TIME_LEN];
	const char *cells[] = {
		u->username, u->user_id, adm_time(u->created_at, created),
	};
	adm_listing_add(arg, user_json(u), cells);
	return 0;
}

int cmd_user_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {"USERNAME", "USER_ID", "CREATED"};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 3, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	return adm_listing_done(&l, store_user_page(ctx->store, &l.page,
	                                            list_one, &l),
	                        "listing users");
}

/*
 * cmd_client.c: `latchkey client add|update|list|show|remove|rotate-secret|
 * disable|enable`.
 *
 * Owns the rules for registering OAuth clients: how ids and secrets are
 * made, which grant types a client may have, and how a client is shown.
 * Secrets leave this file only as PHC hashes (secret.h): a generated one is
 * hashed with the fast salted HMAC, a caller-chosen one with Argon2id. The
 * plaintext is printed once and wiped.
 *
 * `add` and `update` share one table of field options (client_opts); what
 * a field is, its rule and its default are the client spec's (store.h,
 * storage/client_spec.c, shared with the fixtures file), so a new client
 * setting is a row there and an option row here.
 *
 * Client ids starting with "u_" are refused: that is the prefix of user
 * ids, and a client's id is the sub of its tokens (validate.h). A secret
 * the caller chooses needs 16 characters unless --allow-weak-secret.
 *
 * auto_approve_as is for test suites: the server's /authorize approves
 * every request of such a client as the named user, with no login or
 * consent page. The name is stored as given and only looked up when the
 * server uses it, so a suite may set it before it adds the user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "jws.h"
#include "secret.h"
#include "strutil.h"

#define GENERATED_ID_BYTES 16

/* ---- the settable fields ------------------------------------------------
 * What a field is, its rule and its default are the client spec's
 * (store.h, storage/client_spec.c), shared with the fixtures file; this
 * file reads the CLI's syntax into it and words its refusals. */

/* Options that set a client field, for both `add` and `update` (which
 * options each command accepts is main.c's table). A flag carries the
 * state it sets; how says how a list option's values become words. */
static const struct client_opt {
	enum adm_opt opt;
	enum client_field field;
	enum store_tristate state; /* flags */
	int how;                   /* list options: CLIENT_WORDS_* */
} client_opts[] = {
	{OPT_NAME, CLIENT_F_NAME, STORE_DEFAULT, 0},
	{OPT_GRANT, CLIENT_F_GRANTS, STORE_DEFAULT, CLIENT_WORDS_SKIP_EMPTY},
	{OPT_SCOPE, CLIENT_F_SCOPES, STORE_DEFAULT,
	 CLIENT_WORDS_SKIP_EMPTY | CLIENT_WORDS_SPLIT},
	{OPT_REDIRECT_URI, CLIENT_F_REDIRECT_URIS, STORE_DEFAULT,
	 CLIENT_WORDS_SKIP_EMPTY},
	{OPT_ACCESS_TOKEN_TTL, CLIENT_F_ACCESS_TTL, STORE_DEFAULT, 0},
	{OPT_REFRESH_TOKEN_TTL, CLIENT_F_REFRESH_TTL, STORE_DEFAULT, 0},
	{OPT_ON_REFRESH, CLIENT_F_ON_REFRESH, STORE_DEFAULT, 0},
	{OPT_ISSUE_REFRESH_TOKEN, CLIENT_F_ISSUE_REFRESH, STORE_ON, 0},
	{OPT_NO_ISSUE_REFRESH_TOKEN, CLIENT_F_ISSUE_REFRESH, STORE_OFF, 0},
	{OPT_DEFAULT_ISSUE_REFRESH_TOKEN, CLIENT_F_ISSUE_REFRESH, STORE_DEFAULT,
	 0},
	{OPT_AUTO_APPROVE_AS, CLIENT_F_AUTO_APPROVE, STORE_DEFAULT, 0},
	{OPT_AUDIENCE, CLIENT_F_AUDIENCES, STORE_DEFAULT,
	 CLIENT_WORDS_SKIP_EMPTY},
	{OPT_INTROSPECT, CLIENT_F_INTROSPECT, STORE_ON, 0},
	{OPT_NO_INTROSPECT, CLIENT_F_INTROSPECT, STORE_OFF, 0},
	{OPT_ADMIN, CLIENT_F_ADMIN, STORE_ON, 0},
	{OPT_NO_ADMIN, CLIENT_F_ADMIN, STORE_OFF, 0},
	/* OpenID Connect claims (--access-token-claim merges per key, so it
	 * is set_at_claims' rather than a row) */
	{OPT_RELEASE_CLAIM, CLIENT_F_RELEASE_CLAIMS, STORE_DEFAULT,
	 CLIENT_WORDS_SKIP_EMPTY | CLIENT_WORDS_SPLIT},
	/* OpenID Connect: ID tokens */
	{OPT_ID_TOKEN_ALG, CLIENT_F_ID_TOKEN_ALG, STORE_DEFAULT, 0},
	{OPT_REQUIRE_NONCE, CLIENT_F_REQUIRE_NONCE, STORE_ON, 0},
	{OPT_NO_REQUIRE_NONCE, CLIENT_F_REQUIRE_NONCE, STORE_OFF, 0},
	{OPT_POST_LOGOUT_REDIRECT_URI, CLIENT_F_POST_LOGOUT_URIS, STORE_DEFAULT,
	 CLIENT_WORDS_SKIP_EMPTY},
	{OPT_LOGOUT_REVOKES_REFRESH_TOKENS, CLIENT_F_LOGOUT_REVOKES, STORE_ON,
	 0},
	{OPT_NO_LOGOUT_REVOKES_REFRESH_TOKENS, CLIENT_F_LOGOUT_REVOKES,
	 STORE_OFF, 0},
	/* issue 19: keys instead of a secret */
	{OPT_TOKEN_ENDPOINT_AUTH_METHOD, CLIENT_F_AUTH_METHOD, STORE_DEFAULT, 0},
	{OPT_JWKS, CLIENT_F_JWKS, STORE_DEFAULT, 0},
	{OPT_JWKS_URI, CLIENT_F_JWKS_URI, STORE_DEFAULT, 0},
	{OPT_REQUIRE_DPOP, CLIENT_F_REQUIRE_DPOP, STORE_ON, 0},
	{OPT_NO_REQUIRE_DPOP, CLIENT_F_REQUIRE_DPOP, STORE_OFF, 0},
	/* RFC 8705: what a tls_client_auth certificate names */
	{OPT_TLS_SUBJECT_DN, CLIENT_F_TLS_SUBJECT_DN, STORE_DEFAULT, 0},
	{OPT_TLS_SAN_DNS, CLIENT_F_TLS_SAN_DNS, STORE_DEFAULT, 0},
	{OPT_TLS_SAN_URI, CLIENT_F_TLS_SAN_URI, STORE_DEFAULT, 0},
};
#define NOPTS (sizeof(client_opts) / sizeof(client_opts[0]))

/* cli.h. 'default' is the CLI's word for the server's setting; the rest
 * of a value's checking is client_spec_set's, shared with fixtures. */
bool adm_client_value(enum client_field f, const struct adm_optval *ov,
                      int how, enum store_tristate state,
                      struct client_value *v)
{
	memset(v, 0, sizeof(*v));
	v->words = ov->v;
	v->n = ov->n;
	v->how = how;
	v->state = state;
	switch (client_field_defs[f].type) {
	case CLIENT_V_TTL:
		if (adm_ttl_parse(ov->v[0], &v->seconds) != 0)
			return false;
		v->server_setting = v->seconds == 0;
		return true;
	case CLIENT_V_POLICY:
	case CLIENT_V_APPROVER:
		v->server_setting = strcmp(ov->v[0], "default") == 0;
		return true;
	default:
		v->server_setting = (f == CLIENT_F_AUTH_METHOD &&
		                     strcmp(ov->v[0], "default") == 0) ||
		                    ((f == CLIENT_F_JWKS_URI ||
		                      f == CLIENT_F_TLS_SUBJECT_DN ||
		                      f == CLIENT_F_TLS_SAN_DNS ||
		                      f == CLIENT_F_TLS_SAN_URI) &&
		                     *ov->v[0] == '\0');
		return true;
	}
}

/* The refusal of value bad (a word, or the option's value) for o. */
static int refuse(const struct client_opt *o, const char *bad)
{
	const struct client_field_def *d = &client_field_defs[o->field];
	switch (d->type) {
	case CLIENT_V_TTL:
		return adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s, or "
		                "'default'", d->what, bad, d->rule);
	case CLIENT_V_POLICY:
		return adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s, or "
		                "'default' for the server's setting", d->what,
		                bad, d->rule);
	case CLIENT_V_APPROVER:
		return adm_fail(ADM_EXIT_USAGE, "invalid --%s '%s': a username "
		                "(%s), '' for off, or 'default' for the "
		                "server's setting", adm_opts[o->opt].name, bad,
		                d->rule);
	case CLIENT_V_JWKS:
		return adm_fail(ADM_EXIT_USAGE, "invalid --jwks: %s", bad);
	default:
		return adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s", d->what,
		                bad, d->rule);
	}
}

/* Sets o's field of c from the option's values. */
static int set_option(struct store_client *c, const struct client_opt *o,
                      const struct adm_optval *ov)
{
	struct client_value v;
	char *bad = NULL, *text = NULL;
	if (!adm_client_value(o->field, ov, o->how, o->state, &v))
		return refuse(o, ov->v[0]);
	if (o->field == CLIENT_F_JWKS) {
		int rc = adm_read_jwks_file(ov->v[0], &text);
		if (rc != ADM_EXIT_OK)
			return rc;
		v.words = (const char *const *)&text;
	}
	int rc = ADM_EXIT_OK;
	if (!client_spec_set(c, o->field, &v, &bad))
		rc = refuse(o, bad != NULL ? bad : ov->v[0]);
	free(bad);
	free(text);
	return rc;
}

/* Of a group of options that set one field, at most one may be given. */
static int check_group(const struct adm_args *a, const enum adm_opt *group,
                       size_t n)
{
	const char *given[3];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 3; i++)
		if (adm_has(a, group[i]))
			given[k++] = adm_opts[group[i]].name;
	if (k < 2)
		return ADM_EXIT_OK;
	return adm_fail(ADM_EXIT_USAGE, "--%s and --%s exclude each other",
	                given[0], given[1]);
}

/* Options that set the same field to different values. Checked before
 * anything is looked up, as it depends on the command line alone. */
static int check_exclusive(const struct adm_args *a)
{
	static const enum adm_opt issue[] = {
		OPT_ISSUE_REFRESH_TOKEN,
		OPT_NO_ISSUE_REFRESH_TOKEN,
		OPT_DEFAULT_ISSUE_REFRESH_TOKEN,
	};
	static const enum adm_opt introspect[] = {
		OPT_INTROSPECT, OPT_NO_INTROSPECT,
	};
	static const enum adm_opt admin[] = {OPT_ADMIN, OPT_NO_ADMIN};
	static const enum adm_opt nonce[] = {
		OPT_REQUIRE_NONCE, OPT_NO_REQUIRE_NONCE,
	};
	static const enum adm_opt dpop[] = {
		OPT_REQUIRE_DPOP, OPT_NO_REQUIRE_DPOP,
	};
	static const enum adm_opt logout[] = {
		OPT_LOGOUT_REVOKES_REFRESH_TOKENS,
		OPT_NO_LOGOUT_REVOKES_REFRESH_TOKENS,
	};
	int rc = check_group(a, issue, sizeof(issue) / sizeof(issue[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, introspect,
		                 sizeof(introspect) / sizeof(introspect[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, admin, sizeof(admin) / sizeof(admin[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, nonce, sizeof(nonce) / sizeof(nonce[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, logout, sizeof(logout) / sizeof(logout[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, dpop, sizeof(dpop) / sizeof(dpop[0]));
	return rc;
}

/* ---- OpenID Connect claims ----------------------------------------------
 * --access-token-claim KEY=VALUE merges per key into the client's stored
 * set and --unset-access-token-claim KEY removes one (shared/
 * DECISIONS.md), unlike the list options, which replace. */

static int set_at_claims(const struct adm_args *a, struct store_client *c)
{
	if (!adm_has(a, OPT_ACCESS_TOKEN_CLAIM) &&
	    !adm_has(a, OPT_UNSET_ACCESS_TOKEN_CLAIM))
		return ADM_EXIT_OK;
	char *text = NULL, *bad = NULL;
	int rc = adm_claims_apply(c->access_token_claims,
	                          &a->opt[OPT_ACCESS_TOKEN_CLAIM],
	                          &a->opt[OPT_UNSET_ACCESS_TOKEN_CLAIM],
	                          "access-token claim", &text);
	struct client_value v = {.words = (const char *const *)&text, .n = 1};
	if (rc == ADM_EXIT_OK &&
	    !client_spec_set(c, CLIENT_F_ACCESS_TOKEN_CLAIMS, &v, &bad))
		rc = adm_fail(ADM_EXIT_USAGE, "invalid access-token claim "
		              "'%s'", bad); /* adm_claims_apply checked it */
	free(bad);
	free(text);
	return rc;
}

/* Applies every field option given, then checks the rules that span
 * fields. A refusal is a usage error: nothing has been stored yet. */
static int apply_fields(const struct adm_args *a, struct store_client *c)
{
	int at = set_at_claims(a, c);
	if (at != ADM_EXIT_OK)
		return at;
	for (size_t i = 0; i < NOPTS; i++) {
		const struct client_opt *o = &client_opts[i];
		if (!adm_has(a, o->opt))
			continue;
		int rc = set_option(c, o, &a->opt[o->opt]);
		if (rc != ADM_EXIT_OK)
			return rc;
	}
	enum client_field where;
	const char *why = client_spec_finish(c, &where);
	if (why != NULL)
		return adm_fail(ADM_EXIT_USAGE, "%s", why);
	return ADM_EXIT_OK;
}

/* A secret and its hash: the caller's (Argon2id, as it may be weak) or a
 * generated one (256 bits, so the fast hash is enough; see secret.h). The
 * caller frees *secret with crypto_free_str and owns *hash. */
static int make_secret(const char *given, char **secret, char **hash)
{
	*secret = given != NULL ? xstrdup(given) : secret_generate();
	*hash = NULL;
	if (*secret != NULL)
		*hash = given != NULL ? secret_hash_slow(*secret)
		                      : secret_hash_fast(*secret);
	if (*hash != NULL)
		return ADM_EXIT_OK;
	crypto_free_str(*secret);
	*secret = NULL;
	return adm_fail(ADM_EXIT_RUNTIME, "cannot create the client secret");
}

/* A caller-chosen secret: valid, and 16 characters or more unless
 * --allow-weak-secret says otherwise, out loud (issue 12, defect 10: a
 * short secret can be guessed at the token endpoint). */
static int check_secret(const struct adm_args *a, const char *given)
{
	bool allow_weak = adm_has(a, OPT_ALLOW_WEAK_SECRET);
	if (given == NULL && allow_weak)
		return adm_fail(ADM_EXIT_USAGE, "--allow-weak-secret applies to "
		                "--secret only: a generated secret is never weak");
	if (given == NULL)
		return ADM_EXIT_OK;
	if (!valid_secret(given))
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid --secret: " VALID_SECRET_RULE);
	if (valid_secret_chosen(given))
		return ADM_EXIT_OK;
	if (!allow_weak)
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid --secret: " VALID_SECRET_CHOSEN_RULE
		                "; leave --secret out for a generated one, or "
		                "add --allow-weak-secret");
	adm_err("warning: --allow-weak-secret: the secret has %zu "
	        "characters, fewer than %d; it may be guessed",
	        strlen(given), VALID_SECRET_CHOSEN_MIN);
	return ADM_EXIT_OK;
}

/* ---- output ------------------------------------------------------------- */

static const char *ttl_text(int64_t ttl, char buf[24])
{
	if (ttl == 0)
		return "default";
	snprintf(buf, 24, "%lld", (long long)ttl);
	return buf;
}

#define SERVER_SETTING "default (server setting)"

static const char *issue_text(enum store_tristate t)
{
	switch (t) {
	case STORE_ON:
		return "yes";
	case STORE_OFF:
		return "no";
	default:
		return SERVER_SETTING;
	}
}

static const char *auto_approve_text(const char *who)
{
	if (who == NULL)
		return SERVER_SETTING;
	return *who == '\0' ? "off" : who;
}

/* "enabled", or "disabled since TIME". */
static const char *status_text(const struct store_client *c, char *buf,
                               size_t len)
{
	char at[ADM_TIME_LEN];
	if (c->disabled_at == 0)
		return "enabled";
	snprintf(buf, len, "disabled since %s", adm_time(c->disabled_at, at));
	return buf;
}

/* The previous secret after a rotation with a grace period. */
static const char *previous_text(const struct store_client *c, char *buf,
                                 size_t len)
{
	char at[ADM_TIME_LEN];
	if (c->previous_secret_hash == NULL)
		return "none";
	snprintf(buf, len, "%s %s",
	         clock_now() < c->previous_secret_expires_at ? "valid until"
	                                                     : "expired",
	         adm_time(c->previous_secret_expires_at, at));
	return buf;
}

/* Prints one client, with --json or as "field  value" lines. A new client
 * (fresh) is printed with its secret, null for a public client: this is
 * the secret's only showing. */
static void client_print(const struct adm_ctx *ctx,
                         const struct store_client *c, bool fresh,
                         const char *secret)
{
	if (ctx->json) {
		adm_json_print(client_spec_json(c, fresh, secret));
		return;
	}
	char at[24], rt[24], created[ADM_TIME_LEN], updated[ADM_TIME_LEN];
	char status[64], previous[64];
	const char *const rows[][2] = {
		{"client_id", c->client_id},
		{"client_secret", secret},
		{"name", c->name},
		{"type", c->is_public ? "public" : "confidential"},
		{"grant_types", c->grant_types},
		{"scopes", c->scopes},
		{"redirect_uris", c->redirect_uris},
		{"access_token_ttl", ttl_text(c->access_token_ttl, at)},
		{"refresh_token_ttl", ttl_text(c->refresh_token_ttl, rt)},
		{"issue_refresh_token", issue_text(c->issue_refresh_token)},
		{"on_refresh", c->on_refresh != NULL ? c->on_refresh
		                                     : SERVER_SETTING},
		{"auto_approve_as", auto_approve_text(c->auto_approve_as)},
		{"audiences", c->audiences},
		{"introspect", c->introspect ? "yes" : "no"},
		{"admin", c->is_admin ? "yes" : "no"},
		{"access_token_claims", c->access_token_claims != NULL &&
		                                *c->access_token_claims
		                            ? c->access_token_claims
		                            : "{}"},
		{"release_claims", c->release_claims},
		{"id_token_signed_response_alg",
		 c->id_token_alg != NULL && c->id_token_alg[0] != '\0'
		     ? c->id_token_alg
		     : "RS256"},
		{"require_nonce", c->require_nonce ? "yes" : "no"},
		{"post_logout_redirect_uris", c->post_logout_redirect_uris},
		{"logout_revokes_refresh_tokens",
		 c->logout_revokes_refresh_tokens ? "yes" : "no"},
		{"created", adm_time(c->created_at, created)},
		{"updated", adm_time(c->updated_at, updated)},
		{"status", status_text(c, status, sizeof(status))},
		{"previous_secret", previous_text(c, previous, sizeof(previous))},
		/* issue 19, last so that the rows before keep their places */
		{"token_endpoint_auth_method",
		 c->is_public ? "none"
		 : c->auth_method != NULL ? c->auth_method
		                          : "default (a secret, either way)"},
		{"jwks", c->jwks != NULL ? c->jwks : "none"},
		{"jwks_uri", c->jwks_uri != NULL ? c->jwks_uri : "none"},
		{"require_dpop", c->require_dpop ? "yes" : "no"},
		/* RFC 8705: shown only for the client they name */
		{"tls_client_auth_subject_dn", c->tls_subject_dn},
		{"tls_client_auth_san_dns", c->tls_san_dns},
		{"tls_client_auth_san_uri", c->tls_san_uri},
	};
	struct adm_table t;
	adm_table_init(&t, 2, NULL);
	size_t nrows = sizeof(rows) / sizeof(rows[0]);
	for (size_t i = 0; i < nrows; i++)
		/* client_secret only when new; previous_secret only for a
		 * client that has secrets */
		if ((i != 1 || secret != NULL) &&
		    (strncmp(rows[i][0], "tls_client_auth_", 16) != 0 ||
		     rows[i][1] != NULL) &&
		    (strcmp(rows[i][0], "previous_secret") != 0 ||
		     (!c->is_public && !client_spec_secretless(c))))
			adm_table_add(&t, rows[i]);
	adm_table_end(&t, true);
	if (secret != NULL)
		printf("\nThe secret is shown only now: only its hash is "
		       "stored.\n");
}

/* After --auto-approve-as USERNAME was stored: a name that is no user is
 * allowed (a suite may add the user next), but may well be a typo, and
 * the server would refuse every request of the client until it exists. */
static void warn_unknown_approver(const struct adm_ctx *ctx,
                                  const struct store_client *c)
{
	struct store_user u = {0};
	const char *who = c->auto_approve_as;
	if (!adm_has(ctx->args, OPT_AUTO_APPROVE_AS) || who == NULL ||
	    *who == '\0')
		return;
	if (store_user_get(ctx->store, who, &u) == STORE_NOT_FOUND)
		adm_err("warning: user '%s' does not exist (yet)", who);
	store_user_clear(&u);
}

/* ---- the audit trail ----------------------------------------------------- */

/* Records a change of client id: before is its JSON before the change
 * (NULL: added; taken), after its record after (NULL: removed), extra
 * more changes to name (taken; NULL: none). */
static int audit_client(const struct adm_ctx *ctx, const char *action,
                        const char *id, json_t *before,
                        const struct store_client *after, json_t *extra)
{
	char object[320];
	snprintf(object, sizeof(object), "client:%s", id);
	json_t *ch = adm_changes(before, after != NULL
	                                     ? client_spec_json(after, false,
	                                                        NULL)
	                                     : NULL);
	if (extra != NULL) {
		json_object_update(ch, extra);
		json_decref(extra);
	}
	return adm_audit(ctx, action, object, ch);
}

/* ---- commands ----------------------------------------------------------- */

int cmd_client_add(struct adm_ctx *ctx)
{
	const struct adm_args *a = ctx->args;
	const char *id = adm_str(a, OPT_ID);
	const char *given = adm_str(a, OPT_SECRET);
	struct store_client c = {0};
	char *secret = NULL;
	int rc;

	c.is_public = adm_has(a, OPT_PUBLIC);
	rc = check_exclusive(a);
	if (rc != ADM_EXIT_OK)
		return rc;
	const char *id_rule = id != NULL ? client_spec_id_rule(id) : NULL;
	if (id_rule != NULL)
		return adm_fail(ADM_EXIT_USAGE, "invalid client id '%s': %s", id,
		                id_rule);
	if (c.is_public && given != NULL)
		return adm_fail(ADM_EXIT_USAGE,
		                "--public and --secret exclude each other: a "
		                "public client has no secret");
	rc = check_secret(a, given);
	if (rc != ADM_EXIT_OK)
		return rc;

	/* The NAME argument is read as --name would be (client_opts[0]). */
	const struct adm_optval name = {1, (const char **)&ctx->argv[0]};
	rc = set_option(&c, &client_opts[0], &name);
	if (rc != ADM_EXIT_OK) {
		store_client_clear(&c);
		return rc;
	}

	c.client_id = id != NULL ? xstrdup(id)
	                         : crypto_random_id(GENERATED_ID_BYTES);
	/* Unset fields get the client spec's defaults in apply_fields. */
	rc = c.client_id != NULL ? apply_fields(a, &c)
	                         : adm_fail(ADM_EXIT_RUNTIME,
	                                    "cannot generate a client id");
	if (rc == ADM_EXIT_OK && client_spec_secretless(&c) && given != NULL)
		rc = adm_fail(ADM_EXIT_USAGE, "--secret and %s exclude each "
		              "other: the client %s", c.auth_method,
		              client_spec_uses_keys(&c)
		                  ? "signs with its keys"
		                  : "authenticates with its certificate");
	if (rc == ADM_EXIT_OK && !c.is_public && !client_spec_secretless(&c))
		rc = make_secret(given, &secret, &c.secret_hash);
	if (rc == ADM_EXIT_OK) {
		c.created_at = c.updated_at = clock_now();
		enum store_rc r = store_client_add(ctx->store, &c);
		if (r == STORE_CONFLICT)
			rc = adm_fail(ADM_EXIT_RUNTIME,
			              "client '%s' already exists",
			              c.client_id);
		else if (r != STORE_OK)
			rc = adm_store_fail(r, "adding the client");
	}
	if (rc == ADM_EXIT_OK) {
		warn_unknown_approver(ctx, &c);
		client_print(ctx, &c, true, secret);
		rc = audit_client(ctx, "client.add", c.client_id, NULL, &c, NULL);
	}
	crypto_free_str(secret);
	store_client_clear(&c);
	return rc;
}

int cmd_client_update(struct adm_ctx *ctx)
{
	struct store_client c = {0};
	char names[1024] = "";
	bool any = false;
	static const enum adm_opt merged[] = {
		OPT_ACCESS_TOKEN_CLAIM, OPT_UNSET_ACCESS_TOKEN_CLAIM,
	};
	for (size_t i = 0; i < NOPTS + 2; i++) {
		enum adm_opt o = i < NOPTS ? client_opts[i].opt
		                           : merged[i - NOPTS];
		any = any || adm_has(ctx->args, o);
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		         "%s--%s", i ? ", " : "", adm_opts[o].name);
	}
	if (!any)
		return adm_fail(ADM_EXIT_USAGE,
		                "nothing to update: give at least one of %s",
		                names);

	json_t *before = NULL;
	int rc = check_exclusive(ctx->args);
	if (rc == ADM_EXIT_OK)
		rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	if (rc == ADM_EXIT_OK) {
		before = client_spec_json(&c, false, NULL);
		rc = apply_fields(ctx->args, &c);
	}

	if (rc == ADM_EXIT_OK) {
		c.updated_at = clock_now();
		rc = adm_store_check(store_client_update(ctx->store, &c),
		                     "client", ctx->argv[0],
		                     "updating the client");
	}
	if (rc == ADM_EXIT_OK) {
		warn_unknown_approver(ctx, &c);
		client_print(ctx, &c, false, NULL);
		rc = audit_client(ctx, "client.update", c.client_id, before, &c,
		                  NULL);
		before = NULL;
	}
	json_decref(before);
	store_client_clear(&c);
	return rc;
}

static int list_one(const struct store_client *c, void *arg)
{
	/* AUTO_APPROVE_AS comes last, so the columns that were there before
	 * it keep their places for scripts that cut them. */
	const char *cells[] = {
		c->client_id, c->name, c->is_public ? "public" : "confidential",
		c->grant_types, c->scopes, auto_approve_text(c->auto_approve_as),
	};
	adm_listing_add(arg, client_spec_json(c, false, NULL), cells);
	return 0;
}

int cmd_client_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"CLIENT_ID", "NAME", "TYPE", "GRANTS", "SCOPES", "AUTO_APPROVE_AS",
	};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 6, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	return adm_listing_done(&l, store_client_page(ctx->store, &l.page,
	                                              list_one, &l),
	                        "listing clients");
}

int cmd_client_show(struct adm_ctx *ctx)
{
	struct store_client c = {0};
	int rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	if (rc == ADM_EXIT_OK)
		client_print(ctx, &c, false, NULL);
	store_client_clear(&c);
	return rc;
}

int cmd_client_remove(struct adm_ctx *ctx)
{
	const char *id = ctx->argv[0];
	struct store_client c = {0};
	/* Read first, for the audit trail's old values. */
	int rc = adm_client_get(ctx->store, id, &c);
	json_t *before = rc == ADM_EXIT_OK ? client_spec_json(&c, false, NULL)
	                                   : NULL;
	store_client_clear(&c);
	if (rc == ADM_EXIT_OK)
		rc = adm_store_check(store_client_remove(ctx->store, id),
		                     "client", id, "removing the client");
	if (rc != ADM_EXIT_OK) {
		json_decref(before);
		return rc;
	}
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:b}", "client_id",
		                         adm_json_str(id), "removed", 1));
	else
		printf("removed client '%s' and its token records\n", id);
	return audit_client(ctx, "client.remove", id, before, NULL, NULL);
}

int cmd_client_rotate_secret(struct adm_ctx *ctx)
{
	struct store_client c = {0};
	char *secret = NULL, *hash = NULL;
	const char *grace_arg = adm_str(ctx->args, OPT_GRACE);
	int64_t grace = 0;
	if (grace_arg != NULL && adm_duration_parse(grace_arg, &grace) != 0)
		return adm_fail(ADM_EXIT_USAGE, "invalid --grace '%s': seconds, "
		                "or a number with s, m, h or d (90s, 15m, 2h, "
		                "7d), at most 90 days", grace_arg);
	int rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	if (rc == ADM_EXIT_OK && client_spec_uses_keys(&c))
		rc = adm_fail(ADM_EXIT_RUNTIME, "client '%s' authenticates with "
		              "its keys (private_key_jwt): it has no secret to "
		              "rotate", c.client_id);
	else if (rc == ADM_EXIT_OK && client_spec_uses_cert(&c))
		rc = adm_fail(ADM_EXIT_RUNTIME, "client '%s' authenticates with "
		              "a TLS client certificate (%s): it has no secret "
		              "to rotate", c.client_id, c.auth_method);
	if (rc == ADM_EXIT_OK && c.is_public)
		rc = adm_fail(ADM_EXIT_RUNTIME, "client '%s' is public: it has "
		              "no secret to rotate", c.client_id);
	json_t *before = rc == ADM_EXIT_OK ? client_spec_json(&c, false, NULL)
	                                   : NULL;
	if (rc == ADM_EXIT_OK)
		rc = make_secret(NULL, &secret, &hash);
	if (rc == ADM_EXIT_OK) {
		/* The secret being replaced keeps working through the grace. */
		client_spec_rotate_secret(&c, hash, clock_now(), grace);
		enum store_rc r = store_client_update(ctx->store, &c);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "storing the new secret");
	}
	char until[ADM_TIME_LEN];
	if (rc == ADM_EXIT_OK && ctx->json) {
		adm_json_print(json_pack(
		    "{s:o, s:s, s:o}", "client_id", adm_json_str(c.client_id),
		    "client_secret", secret, "previous_secret_expires_at",
		    grace > 0 ? json_integer(c.previous_secret_expires_at)
		              : json_null()));
	} else if (rc == ADM_EXIT_OK) {
		printf("client_id      %s\nclient_secret  %s\n\nThe secret "
		       "is shown only now: only its hash is stored. ",
		       c.client_id, secret);
		if (grace > 0)
			printf("The old secret keeps working until %s; deploy "
			       "the new one before then.\n",
			       adm_time(c.previous_secret_expires_at, until));
		else
			printf("The old secret no longer works.\n");
	}
	if (rc == ADM_EXIT_OK) {
		/* Named, never shown: neither secret nor hash is recorded. */
		rc = audit_client(ctx, "client.rotate_secret", c.client_id,
		                  before, &c,
		                  json_pack("{s:{s:s, s:s}}", "client_secret",
		                            "old", "(replaced)", "new",
		                            "(generated)"));
		before = NULL;
	}
	json_decref(before);
	crypto_free_str(secret);
	store_client_clear(&c);
	return rc;
}

/* disable (on) or enable (!on): one field, so a second disable keeps the
 * time of the first. */
static int set_disabled(struct adm_ctx *ctx, bool on)
{
	struct store_client c = {0};
	int rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	bool changed = rc == ADM_EXIT_OK && (c.disabled_at != 0) != on;
	json_t *before = changed ? client_spec_json(&c, false, NULL) : NULL;
	if (changed) {
		c.updated_at = clock_now();
		c.disabled_at = on ? c.updated_at : 0;
		rc = adm_store_check(store_client_update(ctx->store, &c),
		                     "client", ctx->argv[0],
		                     on ? "disabling the client"
		                        : "enabling the client");
	}
	char status[64];
	if (rc == ADM_EXIT_OK && ctx->json)
		adm_json_print(json_pack("{s:o, s:b, s:o, s:b}", "client_id",
		                         adm_json_str(c.client_id), "disabled",
		                         c.disabled_at != 0, "disabled_at",
		                         c.disabled_at != 0
		                             ? json_integer(c.disabled_at)
		                             : json_null(),
		                         "changed", changed));
	else if (rc == ADM_EXIT_OK)
		printf("client '%s': %s%s\n", c.client_id,
		       status_text(&c, status, sizeof(status)),
		       changed ? "" : " (unchanged)");
	if (rc == ADM_EXIT_OK && changed) {
		rc = audit_client(ctx, on ? "client.disable" : "client.enable",
		                  c.client_id, before, &c, NULL);
		before = NULL;
	}
	json_decref(before);
	store_client_clear(&c);
	return rc;
}

int cmd_client_disable(struct adm_ctx *ctx)
{
	return set_disabled(ctx, true);
}

int cmd_client_enable(struct adm_ctx *ctx)
{
	return set_disabled(ctx, false);
}

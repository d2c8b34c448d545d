/*
 * cmd_client.c: `latchkey client add|update|list|show|remove|rotate-secret`.
 *
 * Owns the rules for registering OAuth clients: how ids and secrets are
 * made, which grant types a client may have, and how a client is shown.
 * Secrets leave this file only as PHC hashes (secret.h): a generated one is
 * hashed with the fast salted HMAC, a caller-chosen one with Argon2id. The
 * plaintext is printed once and wiped.
 *
 * `add` and `update` share one table of field options (client_fields), so
 * a new client setting is one setter and one row.
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
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "secret.h"
#include "strutil.h"

#define GENERATED_ID_BYTES 16

/* ---- the settable fields ------------------------------------------------ */

static const struct adm_word_kind grant_kind = {
	"grant type", VALID_GRANT_TYPE_RULE, false, valid_grant_type,
};

static const struct adm_word_kind scope_kind = {
	"scope", VALID_SCOPE_RULE, true, valid_scope,
};

static const struct adm_word_kind uri_kind = {
	"redirect URI", VALID_REDIRECT_URI_RULE, false, valid_redirect_uri,
};

static const struct adm_word_kind audience_kind = {
	"audience", VALID_AUDIENCE_RULE, false, valid_audience,
};

static int set_words(char **field, const struct adm_optval *ov,
                     const struct adm_word_kind *kind)
{
	char *list;
	int rc = adm_collect_words(ov, kind, &list);
	if (rc == ADM_EXIT_OK) {
		free(*field);
		*field = list;
	}
	return rc;
}

static int set_ttl(int64_t *field, const struct adm_optval *ov,
                   const char *what)
{
	if (adm_ttl_parse(ov->v[0], field) == 0)
		return ADM_EXIT_OK;
	return adm_fail(ADM_EXIT_USAGE,
	                "invalid %s '%s': " VALID_TTL_RULE ", or 'default'",
	                what, ov->v[0]);
}

static int check_name(const char *name)
{
	if (valid_client_name(name))
		return ADM_EXIT_OK;
	return adm_fail(ADM_EXIT_USAGE,
	                "invalid client name '%s': " VALID_CLIENT_NAME_RULE,
	                name);
}

static int set_name(struct store_client *c, const struct adm_optval *ov)
{
	int rc = check_name(ov->v[0]);
	if (rc == ADM_EXIT_OK) {
		free(c->name);
		c->name = xstrdup(ov->v[0]);
	}
	return rc;
}

static int set_grants(struct store_client *c, const struct adm_optval *ov)
{ return set_words(&c->grant_types, ov, &grant_kind); }
static int set_scopes(struct store_client *c, const struct adm_optval *ov)
{ return set_words(&c->scopes, ov, &scope_kind); }
static int set_uris(struct store_client *c, const struct adm_optval *ov)
{ return set_words(&c->redirect_uris, ov, &uri_kind); }
static int set_audiences(struct store_client *c, const struct adm_optval *ov)
{ return set_words(&c->audiences, ov, &audience_kind); }
static int set_access_ttl(struct store_client *c, const struct adm_optval *ov)
{ return set_ttl(&c->access_token_ttl, ov, "access-token lifetime"); }
static int set_refresh_ttl(struct store_client *c, const struct adm_optval *ov)
{ return set_ttl(&c->refresh_token_ttl, ov, "refresh-token lifetime"); }

static int set_on_refresh(struct store_client *c, const struct adm_optval *ov)
{
	const char *policy;
	if (adm_on_refresh_parse(ov->v[0], &policy) != 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid on-refresh policy '%s': "
		                VALID_ON_REFRESH_RULE ", or 'default' for the "
		                "server's setting", ov->v[0]);
	free(c->on_refresh);
	c->on_refresh = policy != NULL ? xstrdup(policy) : NULL;
	return ADM_EXIT_OK;
}

static int set_auto_approve(struct store_client *c,
                            const struct adm_optval *ov)
{
	const char *who;
	if (adm_auto_approve_parse(ov->v[0], &who) != 0)
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid --auto-approve-as '%s': a username ("
		                VALID_USERNAME_RULE "), '' for off, or 'default' "
		                "for the server's setting", ov->v[0]);
	free(c->auto_approve_as);
	c->auto_approve_as = who != NULL ? xstrdup(who) : NULL;
	return ADM_EXIT_OK;
}

/* The three flags that set issue_refresh_token; check_tristates has made
 * sure at most one was given. */
static int set_issue_on(struct store_client *c, const struct adm_optval *ov)
{ (void)ov; c->issue_refresh_token = STORE_ON; return ADM_EXIT_OK; }
static int set_issue_off(struct store_client *c, const struct adm_optval *ov)
{ (void)ov; c->issue_refresh_token = STORE_OFF; return ADM_EXIT_OK; }
static int set_issue_default(struct store_client *c,
                             const struct adm_optval *ov)
{ (void)ov; c->issue_refresh_token = STORE_DEFAULT; return ADM_EXIT_OK; }

/* --introspect and --no-introspect (check_exclusive: not both). */
static int set_introspect_on(struct store_client *c,
                             const struct adm_optval *ov)
{ (void)ov; c->introspect = true; return ADM_EXIT_OK; }
static int set_introspect_off(struct store_client *c,
                              const struct adm_optval *ov)
{ (void)ov; c->introspect = false; return ADM_EXIT_OK; }

/* Options that set a client field, for both `add` and `update` (which
 * options each command accepts is main.c's table). */
static const struct client_field {
	enum adm_opt opt;
	int (*set)(struct store_client *c, const struct adm_optval *ov);
} client_fields[] = {
	{OPT_NAME, set_name},
	{OPT_GRANT, set_grants},
	{OPT_SCOPE, set_scopes},
	{OPT_REDIRECT_URI, set_uris},
	{OPT_ACCESS_TOKEN_TTL, set_access_ttl},
	{OPT_REFRESH_TOKEN_TTL, set_refresh_ttl},
	{OPT_ON_REFRESH, set_on_refresh},
	{OPT_ISSUE_REFRESH_TOKEN, set_issue_on},
	{OPT_NO_ISSUE_REFRESH_TOKEN, set_issue_off},
	{OPT_DEFAULT_ISSUE_REFRESH_TOKEN, set_issue_default},
	{OPT_AUTO_APPROVE_AS, set_auto_approve},
	{OPT_AUDIENCE, set_audiences},
	{OPT_INTROSPECT, set_introspect_on},
	{OPT_NO_INTROSPECT, set_introspect_off},
};
#define NFIELDS (sizeof(client_fields) / sizeof(client_fields[0]))

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
	int rc = check_group(a, issue, sizeof(issue) / sizeof(issue[0]));
	if (rc == ADM_EXIT_OK)
		rc = check_group(a, introspect,
		                 sizeof(introspect) / sizeof(introspect[0]));
	return rc;
}

/* Applies every field option given, then checks the rules that span
 * fields. A refusal is a usage error: nothing has been stored yet. */
static int apply_fields(const struct adm_args *a, struct store_client *c)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct client_field *f = &client_fields[i];
		if (!adm_has(a, f->opt))
			continue;
		int rc = f->set(c, &a->opt[f->opt]);
		if (rc != ADM_EXIT_OK)
			return rc;
	}
	const char *why = valid_grants_check(c->is_public, c->grant_types);
	if (why == NULL)
		why = valid_introspect_check(c->is_public, c->introspect);
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

/* The client as JSON. With with_secret, a client_secret member follows
 * client_id: the plaintext secret, or null for a public client. */
static json_t *client_json(const struct store_client *c, bool with_secret,
                           const char *secret)
{
	json_t *o = json_object();
	json_object_set_new(o, "client_id", adm_json_str(c->client_id));
	if (with_secret)
		json_object_set_new(o, "client_secret", adm_json_str(secret));
	json_object_set_new(o, "name", adm_json_str(c->name));
	json_object_set_new(o, "public", json_boolean(c->is_public));
	json_object_set_new(o, "grant_types", adm_json_words(c->grant_types));
	json_object_set_new(o, "scopes", adm_json_words(c->scopes));
	json_object_set_new(o, "redirect_uris",
	                    adm_json_words(c->redirect_uris));
	json_object_set_new(o, "access_token_ttl",
	                    adm_json_opt_int(c->access_token_ttl));
	json_object_set_new(o, "refresh_token_ttl",
	                    adm_json_opt_int(c->refresh_token_ttl));
	json_object_set_new(o, "issue_refresh_token",
	                    c->issue_refresh_token == STORE_DEFAULT
	                        ? json_null()
	                        : json_boolean(c->issue_refresh_token ==
	                                       STORE_ON));
	json_object_set_new(o, "on_refresh", adm_json_str(c->on_refresh));
	json_object_set_new(o, "auto_approve_as",
	                    adm_json_str(c->auto_approve_as));
	json_object_set_new(o, "audiences", adm_json_words(c->audiences));
	json_object_set_new(o, "introspect", json_boolean(c->introspect));
	json_object_set_new(o, "created_at", json_integer(c->created_at));
	json_object_set_new(o, "updated_at", json_integer(c->updated_at));
	return o;
}

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

/* Prints one client, with --json or as "field  value" lines. A new client
 * (fresh) is printed with its secret, null for a public client: this is
 * the secret's only showing. */
static void client_print(const struct adm_ctx *ctx,
                         const struct store_client *c, bool fresh,
                         const char *secret)
{
	if (ctx->json) {
		adm_json_print(client_json(c, fresh, secret));
		return;
	}
	char at[24], rt[24], created[ADM_TIME_LEN], updated[ADM_TIME_LEN];
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
		{"created", adm_time(c->created_at, created)},
		{"updated", adm_time(c->updated_at, updated)},
	};
	struct adm_table t;
	adm_table_init(&t, 2, NULL);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (i != 1 || secret != NULL)
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
	if (id != NULL && valid_client_id_reserved(id))
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid client id '%s': "
		                VALID_CLIENT_ID_RESERVED_RULE, id);
	if (id != NULL && !valid_client_id(id))
		return adm_fail(ADM_EXIT_USAGE,
		                "invalid client id '%s': " VALID_CLIENT_ID_RULE, id);
	if (c.is_public && given != NULL)
		return adm_fail(ADM_EXIT_USAGE,
		                "--public and --secret exclude each other: a "
		                "public client has no secret");
	rc = check_secret(a, given);
	if (rc != ADM_EXIT_OK)
		return rc;

	rc = check_name(ctx->argv[0]);
	if (rc != ADM_EXIT_OK)
		return rc;

	c.name = xstrdup(ctx->argv[0]);
	c.client_id = id != NULL ? xstrdup(id)
	                         : crypto_random_id(GENERATED_ID_BYTES);
	/* The defaults each kind of client can use (RFC 6749 section 4.4
	 * rules client_credentials out for public clients). */
	c.grant_types = xstrdup(c.is_public ? "authorization_code refresh_token"
	                                    : "client_credentials");
	rc = c.client_id != NULL ? apply_fields(a, &c)
	                         : adm_fail(ADM_EXIT_RUNTIME,
	                                    "cannot generate a client id");
	if (rc == ADM_EXIT_OK && !c.is_public)
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
	}
	crypto_free_str(secret);
	store_client_clear(&c);
	return rc;
}

int cmd_client_update(struct adm_ctx *ctx)
{
	struct store_client c = {0};
	char names[512] = "";
	bool any = false;
	for (size_t i = 0; i < NFIELDS; i++) {
		enum adm_opt o = client_fields[i].opt;
		any = any || adm_has(ctx->args, o);
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		         "%s--%s", i ? ", " : "", adm_opts[o].name);
	}
	if (!any)
		return adm_fail(ADM_EXIT_USAGE,
		                "nothing to update: give at least one of %s",
		                names);

	int rc = check_exclusive(ctx->args);
	if (rc == ADM_EXIT_OK)
		rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	if (rc == ADM_EXIT_OK)
		rc = apply_fields(ctx->args, &c);
	if (rc == ADM_EXIT_OK) {
		c.updated_at = clock_now();
		rc = adm_store_check(store_client_update(ctx->store, &c),
		                     "client", ctx->argv[0],
		                     "updating the client");
	}
	if (rc == ADM_EXIT_OK) {
		warn_unknown_approver(ctx, &c);
		client_print(ctx, &c, false, NULL);
	}
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
	adm_listing_add(arg, client_json(c, false, NULL), cells);
	return 0;
}

int cmd_client_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {
		"CLIENT_ID", "NAME", "TYPE", "GRANTS", "SCOPES", "AUTO_APPROVE_AS",
	};
	struct adm_listing l;
	adm_listing_init(&l, ctx->json, 6, header);
	enum store_rc r = store_client_list(ctx->store, list_one, &l);
	adm_listing_end(&l, r == STORE_OK);
	return r == STORE_OK ? ADM_EXIT_OK
	                     : adm_store_fail(r, "listing clients");
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
	int rc = adm_store_check(store_client_remove(ctx->store, id), "client",
	                         id, "removing the client");
	if (rc != ADM_EXIT_OK)
		return rc;
	if (ctx->json)
		adm_json_print(json_pack("{s:o, s:b}", "client_id",
		                         adm_json_str(id), "removed", 1));
	else
		printf("removed client '%s' and its token records\n", id);
	return ADM_EXIT_OK;
}

int cmd_client_rotate_secret(struct adm_ctx *ctx)
{
	struct store_client c = {0};
	char *secret = NULL, *hash = NULL;
	int rc = adm_client_get(ctx->store, ctx->argv[0], &c);
	if (rc == ADM_EXIT_OK && c.is_public)
		rc = adm_fail(ADM_EXIT_RUNTIME, "client '%s' is public: it has "
		              "no secret to rotate", c.client_id);
	if (rc == ADM_EXIT_OK)
		rc = make_secret(NULL, &secret, &hash);
	if (rc == ADM_EXIT_OK) {
		crypto_free_str(c.secret_hash);
		c.secret_hash = hash;
		c.updated_at = clock_now();
		enum store_rc r = store_client_update(ctx->store, &c);
		if (r != STORE_OK)
			rc = adm_store_fail(r, "storing the new secret");
	}
	if (rc == ADM_EXIT_OK && ctx->json) {
		adm_json_print(json_pack("{s:o, s:s}", "client_id",
		                         adm_json_str(c.client_id),
		                         "client_secret", secret));
	} else if (rc == ADM_EXIT_OK) {
		printf("client_id      %s\nclient_secret  %s\n\nThe secret "
		       "is shown only now: only its hash is stored. The old "
		       "secret no longer works.\n", c.client_id, secret);
	}
	crypto_free_str(secret);
	store_client_clear(&c);
	return rc;
}

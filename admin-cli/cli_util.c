/*
 * cli_util.c: the parts of the admin CLI that every command shares.
 *
 * Sections: the option table and the command-line parser; errors, the
 * client and user lookups, opening the store; output (JSON, aligned
 * tables, times); option values in the CLI's syntax (the rules are
 * core/validate.c's); reading a password.
 * The commands themselves live in cmd_*.c and the dispatcher in main.c.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "jws.h"
#include "strutil.h"

/* ---- options and the parser --------------------------------------------- */

const struct adm_opt_def adm_opts[ADM_OPT__MAX] = {
	[OPT_DB] = {"db", ADM_OPT_ARG, "PATH",
	            "database file or postgresql:// URI (default $LATCHKEY_DB, "
	            "else the --config file's db, else ./latchkey.db)"},
	[OPT_CONFIG] = {"config", ADM_OPT_ARG, "FILE",
	                "latchkeyd's INI file, for its db (default "
	                "$LATCHKEY_CONFIG)"},
	[OPT_JSON] = {"json", 0, NULL, "print machine-readable JSON"},
	[OPT_HELP] = {"help", 0, NULL, "print this help and exit"},
	[OPT_VERSION] = {"version", 0, NULL, "print the version (and the libraries') and exit"},
	[OPT_ID] = {"id", ADM_OPT_ARG, "ID",
	            "client add: the client_id to use instead of a generated "
	            "one; session revoke: the session's sid"},
	[OPT_NAME] = {"name", ADM_OPT_ARG, "NAME", "new display name"},
	[OPT_SECRET] = {"secret", ADM_OPT_ARG, "SECRET",
	                "caller-chosen secret instead of a generated one"},
	[OPT_PUBLIC] = {"public", 0, NULL,
	                "public client: no secret (native and browser apps)"},
	[OPT_GRANT] = {"grant", ADM_OPT_ARG | ADM_OPT_LIST, "TYPE",
	               "allowed grant type (repeatable)"},
	[OPT_SCOPE] = {"scope", ADM_OPT_ARG | ADM_OPT_LIST, "SCOPE",
	               "allowed scope (repeatable)"},
	[OPT_REDIRECT_URI] = {"redirect-uri", ADM_OPT_ARG | ADM_OPT_LIST, "URI",
	                      "registered redirect URI (repeatable)"},
	[OPT_ACCESS_TOKEN_TTL] = {"access-token-ttl", ADM_OPT_ARG, "SECONDS",
	                          "access-token lifetime, or 'default'"},
	[OPT_REFRESH_TOKEN_TTL] = {"refresh-token-ttl", ADM_OPT_ARG, "SECONDS",
	                           "refresh-token lifetime, or 'default'"},
	[OPT_ON_REFRESH] = {"on-refresh", ADM_OPT_ARG, "POLICY",
	                    "nothing, revoke, hook, or 'default' (see above)"},
	[OPT_ISSUE_REFRESH_TOKEN] = {"issue-refresh-token", 0, NULL,
	                             "give this client refresh tokens"},
	[OPT_NO_ISSUE_REFRESH_TOKEN] = {"no-issue-refresh-token", 0, NULL,
	                                "give this client no refresh tokens"},
	[OPT_DEFAULT_ISSUE_REFRESH_TOKEN] = {
	    "default-issue-refresh-token", 0, NULL,
	    "refresh tokens as the server's setting says"},
	[OPT_AUTO_APPROVE_AS] = {"auto-approve-as", ADM_OPT_ARG, "USERNAME",
	                         "tests only (see above); '' off, or 'default'"},
	[OPT_AUDIENCE] = {"audience", ADM_OPT_ARG | ADM_OPT_LIST, "AUD",
	                  "aud of this client's access tokens (repeatable)"},
	[OPT_POST_LOGOUT_REDIRECT_URI] = {
	    "post-logout-redirect-uri", ADM_OPT_ARG | ADM_OPT_LIST, "URI",
	    "where /logout may send the browser back (repeatable)"},
	[OPT_LOGOUT_REVOKES_REFRESH_TOKENS] = {
	    "logout-revokes-refresh-tokens", 0, NULL,
	    "a logout by this client revokes its tokens from the session"},
	[OPT_NO_LOGOUT_REVOKES_REFRESH_TOKENS] = {
	    "no-logout-revokes-refresh-tokens", 0, NULL,
	    "a logout leaves refresh tokens alone (the default)"},
	[OPT_ADMIN] = {"admin", 0, NULL,
	               "may be granted the scope latchkey:admin, which the "
	               "admin HTTP API requires"},
	[OPT_NO_ADMIN] = {"no-admin", 0, NULL,
	                  "may not be granted latchkey:admin (the default)"},
	[OPT_JWKS] = {"jwks", ADM_OPT_ARG, "FILE",
	              "the client's public keys, a JWKS file, for "
	              "private_key_jwt, or its certificates (x5c) for "
	              "self_signed_tls_client_auth ('' removes them)"},
	[OPT_REQUIRE_DPOP] = {"require-dpop", 0, NULL,
	                      "/token requires a DPoP proof: the client's "
	                      "tokens are all bound to its key"},
	[OPT_NO_REQUIRE_DPOP] = {"no-require-dpop", 0, NULL,
	                         "a DPoP proof is optional (the default)"},
	[OPT_TLS_SUBJECT_DN] = {"tls-client-auth-subject-dn", ADM_OPT_ARG, "DN",
	                        "tls_client_auth: the certificate's subject "
	                        "('' removes it)"},
	[OPT_TLS_SAN_DNS] = {"tls-client-auth-san-dns", ADM_OPT_ARG, "NAME",
	                     "tls_client_auth: a DNS name of the certificate "
	                     "('' removes it)"},
	[OPT_TLS_SAN_URI] = {"tls-client-auth-san-uri", ADM_OPT_ARG, "URI",
	                     "tls_client_auth: a URI of the certificate ('' "
	                     "removes it)"},
	[OPT_JWKS_URI] = {"jwks-uri", ADM_OPT_ARG, "URL",
	                  "where the client publishes its public keys, for "
	                  "private_key_jwt or self_signed_tls_client_auth ('' "
	                  "removes it)"},
	[OPT_TOKEN_ENDPOINT_AUTH_METHOD] = {
	    "token-endpoint-auth-method", ADM_OPT_ARG, "METHOD",
	    "client_secret_basic, client_secret_post, private_key_jwt (a "
	    "signed assertion, no secret), tls_client_auth or "
	    "self_signed_tls_client_auth (a TLS client certificate, no "
	    "secret), or 'default' (a secret, either way)"},
	[OPT_INTROSPECT] = {"introspect", 0, NULL,
	                    "may call /introspect (see above)"},
	[OPT_NO_INTROSPECT] = {"no-introspect", 0, NULL,
	                       "may not call /introspect when the server "
	                       "requires the flag"},
	/* OpenID Connect: ID tokens */
	[OPT_ID_TOKEN_ALG] = {"id-token-signed-response-alg", ADM_OPT_ARG,
	                      "ALG", "sign the client's ID tokens with RS256 "
	                      "(the default) or ES256"},
	[OPT_REQUIRE_NONCE] = {"require-nonce", 0, NULL,
	                       "/authorize requires a nonce when openid is "
	                       "asked"},
	[OPT_NO_REQUIRE_NONCE] = {"no-require-nonce", 0, NULL,
	                          "a nonce is optional (the default)"},
	[OPT_ALLOW_WEAK_SECRET] = {"allow-weak-secret", 0, NULL,
	                           "accept a --secret shorter than 16 "
	                           "characters"},
	[OPT_PASSWORD_STDIN] = {"password-stdin", 0, NULL,
	                        "read the password from stdin's first line"},
	[OPT_CLIENT] = {"client", ADM_OPT_ARG, "ID",
	                "only this client's tokens or consents"},
	[OPT_ACTIVE] = {"active", 0, NULL,
	                "only tokens that are neither expired nor revoked "
	                "(nor rotated)"},
	[OPT_REFRESH] = {"refresh", 0, NULL,
	                 "list refresh tokens instead of access tokens"},
	[OPT_FAMILY] = {"family", ADM_OPT_ARG, "ID",
	                "only the tokens of this refresh-token family"},
	[OPT_USER] = {"user", ADM_OPT_ARG, "NAME",
	              "only this user's tokens or consents"},
	[OPT_ALG] = {"alg", ADM_OPT_ARG, "ALG",
	             "only this algorithm's key: ES256 or RS256 "
	             "(default: both)"},
	[OPT_FORCE] = {"force", 0, NULL, "replace FILE if it exists"},
	[OPT_FROM] = {"from", ADM_OPT_ARG, "SOURCE",
	              "database to copy: file or postgresql:// URI"},
	[OPT_TO] = {"to", ADM_OPT_ARG, "DEST",
	            "empty database to copy into: file or postgresql:// URI"},
	[OPT_LIMIT] = {"limit", ADM_OPT_ARG, "N",
	               "only the newest N rows (text shows 100 by default)"},
	[OPT_SINCE] = {"since", ADM_OPT_ARG, "TIME",
	               "only rows created at or after TIME (RFC 3339 or "
	               "epoch seconds)"},
	/* ---- OpenID Connect claims */
	[OPT_CLAIM] = {"claim", ADM_OPT_ARG | ADM_OPT_LIST, "KEY=VALUE",
	               "set a claim of the user (repeatable; see above)"},
	[OPT_UNSET_CLAIM] = {"unset-claim", ADM_OPT_ARG | ADM_OPT_LIST, "KEY",
	                     "remove a claim of the user (repeatable)"},
	[OPT_ACCESS_TOKEN_CLAIM] = {"access-token-claim",
	                            ADM_OPT_ARG | ADM_OPT_LIST, "KEY=VALUE",
	                            "a claim in every access token of this "
	                            "client (repeatable)"},
	[OPT_UNSET_ACCESS_TOKEN_CLAIM] = {"unset-access-token-claim",
	                                  ADM_OPT_ARG | ADM_OPT_LIST, "KEY",
	                                  "remove an access-token claim "
	                                  "(repeatable)"},
	[OPT_RELEASE_CLAIM] = {"release-claim", ADM_OPT_ARG | ADM_OPT_LIST,
	                       "NAME",
	                       "a user claim this client gets in its tokens "
	                       "and at userinfo (repeatable)"},
	[OPT_GRACE] = {"grace", ADM_OPT_ARG, "DURATION",
	               "keep the old secret valid this long (3600, 90s, 15m, "
	               "2h, 7d; default 0: not at all)"},
	[OPT_OBJECT] = {"object", ADM_OPT_ARG, "OBJECT",
	                "only events of this object (client:ID, user:NAME, "
	                "key:ALG, ...)"},
	[OPT_ACTOR] = {"actor", ADM_OPT_ARG, "ACTOR",
	               "only events by this actor (cli:USER, ...)"},
	[OPT_NEXT] = {"next", 0, NULL,
	              "publish the key as the next one: in the JWKS, "
	              "signing nothing until 'key rotate'"},
};

_Static_assert(ADM_OPT__MAX <= 64, "ADM_O() masks are 64 bits wide");

/* getopt_long's val for option i; above every char so it never collides
 * with the short -h or getopt's own '?', ':' and 1. */
#define OPT_VAL_BASE 256

static void push(const char ***arr, size_t *n, const char *v)
{
	const char **grown = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (grown == NULL)
		abort();
	grown[(*n)++] = v;
	*arr = grown;
}

/* getopt_long accepts any unambiguous prefix of a long option. A prefix
 * that works today would break when a later option shares it, so only the
 * full name is accepted: text is the argv element the option came from. */
static bool exact_name(const char *text, const char *name)
{
	if (strncmp(text, "--", 2) != 0)
		return false;
	text += 2;
	size_t len = strcspn(text, "=");
	return len == strlen(name) && strncmp(text, name, len) == 0;
}

static int record(struct adm_args *a, enum adm_opt o, const char *value,
                  char *err, size_t errlen)
{
	struct adm_optval *ov = &a->opt[o];
	if (ov->n > 0 && (adm_opts[o].flags & ADM_OPT_LIST) == 0) {
		if ((adm_opts[o].flags & ADM_OPT_ARG) == 0)
			return 0; /* a flag given twice means the same thing */
		snprintf(err, errlen, "option --%s given more than once",
		         adm_opts[o].name);
		return -1;
	}
	push(&ov->v, &ov->n, value);
	return 0;
}

int adm_args_parse(int argc, char **argv, struct adm_args *a, char *err,
                   size_t errlen)
{
	struct option longopts[ADM_OPT__MAX + 1];
	memset(a, 0, sizeof(*a));
	memset(longopts, 0, sizeof(longopts));
	for (int i = 0; i < ADM_OPT__MAX; i++) {
		longopts[i].name = adm_opts[i].name;
		longopts[i].has_arg = (adm_opts[i].flags & ADM_OPT_ARG)
		                          ? required_argument : no_argument;
		longopts[i].val = OPT_VAL_BASE + i;
	}

	/* "-": words come back in order as option 1, so options may sit
	 * anywhere without getopt reordering argv; ":": a missing value is
	 * reported as ':' rather than printed by getopt. */
	opterr = 0;
	optind = 0; /* GNU getopt starts afresh: the tests parse often */
	for (;;) {
		int start = optind > 0 ? optind : 1;
		int c = getopt_long(argc, argv, "-:h", longopts, NULL);
		if (c == -1)
			break;
		if (c == 1) {
			push(&a->pos, &a->npos, optarg);
		} else if (c == 'h') {
			(void)record(a, OPT_HELP, NULL, err, errlen);
		} else if (c >= OPT_VAL_BASE) {
			enum adm_opt o = (enum adm_opt)(c - OPT_VAL_BASE);
			if (!exact_name(argv[start], adm_opts[o].name)) {
				snprintf(err, errlen, "unknown option '%s'",
				         argv[start]);
				return -1;
			}
			if (record(a, o, optarg, err, errlen) != 0)
				return -1;
		} else if (c == ':' && optopt >= OPT_VAL_BASE) {
			/* A prefix without its value must not be reported
			 * as the option it abbreviates. */
			const char *name = adm_opts[optopt - OPT_VAL_BASE].name;
			if (!exact_name(argv[start], name))
				snprintf(err, errlen, "unknown option '%s'",
				         argv[start]);
			else
				snprintf(err, errlen,
				         "option --%s needs a value", name);
			return -1;
		} else if (optopt >= OPT_VAL_BASE) {
			snprintf(err, errlen, "option --%s takes no value",
			         adm_opts[optopt - OPT_VAL_BASE].name);
			return -1;
		} else if (optopt != 0) {
			snprintf(err, errlen, "unknown option '-%c'", optopt);
			return -1;
		} else {
			snprintf(err, errlen, "unknown option '%s'",
			         argv[optind - 1]);
			return -1;
		}
	}
	/* After "--" everything is a word, even "-x". */
	for (int i = optind; i < argc; i++)
		push(&a->pos, &a->npos, argv[i]);
	return 0;
}

void adm_args_free(struct adm_args *a)
{
	for (int i = 0; i < ADM_OPT__MAX; i++)
		free(a->opt[i].v);
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

bool adm_has(const struct adm_args *a, enum adm_opt o)
{
	return a->opt[o].n > 0;
}

const char *adm_str(const struct adm_args *a, enum adm_opt o)
{
	return a->opt[o].n > 0 ? a->opt[o].v[a->opt[o].n - 1] : NULL;
}

/* ---- errors and the store ----------------------------------------------- */

/* Every error goes through here. Values typed by the operator end up in
 * messages, so control characters are replaced: a message is one line and
 * cannot drive the terminal. */
static void verr(const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fflush(stdout);
	fprintf(stderr, "latchkey: %s\n", msg);
}

void adm_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
}

int adm_fail(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
	return status;
}

int adm_store_fail(enum store_rc rc, const char *what)
{
	return adm_fail(ADM_EXIT_RUNTIME, "%s: %s", what, store_rc_str(rc));
}

/* The database named outright: --db, else a non-empty $LATCHKEY_DB;
 * NULL when the config file's db decides. */
static const char *db_given(const struct adm_args *a)
{
	const char *p = adm_str(a, OPT_DB);
	if (p != NULL)
		return p; /* even "": the store refuses that with a message */
	p = getenv("LATCHKEY_DB");
	return p != NULL && *p != '\0' ? p : NULL;
}

int adm_config_load(const struct adm_args *a, struct lk_config *cfg)
{
	char err[512];
	const char *file = adm_str(a, OPT_CONFIG);
	/* An exported $LATCHKEY_CONFIG is only a default for finding the
	 * database: with the database named, it is not read, so that a
	 * file other users cannot read (the package's is 0640
	 * root:latchkey) does not fail their `latchkey --db x.db`. An
	 * explicit --config is always read. */
	if (file == NULL && db_given(a) == NULL)
		file = getenv("LATCHKEY_CONFIG");
	if (file == NULL || file[0] == '\0') {
		config_defaults(cfg);
		return ADM_EXIT_OK;
	}
	if (config_load_file(cfg, file, err, sizeof(err)) != 0)
		return adm_fail(ADM_EXIT_USAGE, "%s", err);
	return ADM_EXIT_OK;
}

const char *adm_db_path(const struct adm_args *a, const struct lk_config *cfg)
{
	const char *p = db_given(a);
	return p != NULL ? p : cfg->db;
}

/* Applies pending migrations, reporting a failure with the store's own
 * message (which says what to do about a newer or edited schema). */
static int migrate(struct store *s, const char *path, int *applied,
                   int *schema)
{
	char err[512] = "";
	char shown[512];
	enum store_rc rc = store_migrate(s, applied, schema, err, sizeof(err));
	if (rc == STORE_OK)
		return ADM_EXIT_OK;
	store_target_redact(path, shown, sizeof(shown));
	return adm_fail(ADM_EXIT_RUNTIME, "%s: %s", shown,
	                err[0] ? err : store_rc_str(rc));
}

/* Only `latchkey migrate` (and latchkeyd at start) changes the schema of
 * a database that holds one: a command of a newer build on a live
 * database would otherwise migrate it under the running server, whose
 * /healthz then turns 503. A new, empty database (version 0) is still
 * created and migrated by any command, as nothing can be using it. A
 * database newer than this binary is left to migrate(), which refuses it
 * with its own message. */
static int older_refused(struct store *s, const char *path)
{
	int db = 0, binary = 0;
	char shown[512];
	enum store_rc rc = store_schema_version(s, &db, &binary);
	if (rc != STORE_OK)
		return adm_store_fail(rc, "reading the schema version");
	if (db == 0 || db >= binary)
		return ADM_EXIT_OK;
	store_target_redact(path, shown, sizeof(shown));
	return adm_fail(ADM_EXIT_RUNTIME,
	                "%s: database schema version %d is older than this "
	                "binary's %d: run latchkey migrate (after stopping or "
	                "upgrading every latchkeyd that uses it)",
	                shown, db, binary);
}

int adm_store_open(const char *path, const struct lk_config *cfg,
                   bool migrate_first, struct store **out)
{
	/* An operator's change (a revocation, a new key) is worth an fsync:
	 * there are few of them, and none should be lost to a power cut
	 * after the command said it was done. */
	const struct store_options durable = {
		.durability = STORE_DURABILITY_FULL,
		.connect_timeout = (int)cfg->db_connect_timeout,
		/* 0 turns the timeout off; the options' 0 is "the default". */
		.statement_timeout = cfg->db_statement_timeout > 0
		                         ? (int)cfg->db_statement_timeout
		                         : -1,
	};
	char err[512] = "";
	int applied, schema;
	enum store_rc rc = store_open_with(path, &durable, out, err,
	                                   sizeof(err));
	if (rc != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "%s",
		                err[0] ? err : store_rc_str(rc));
	if (!migrate_first)
		return ADM_EXIT_OK;
	int st = older_refused(*out, path);
	if (st == ADM_EXIT_OK)
		st = migrate(*out, path, &applied, &schema);
	if (st != ADM_EXIT_OK) {
		store_close(*out);
		*out = NULL;
	}
	return st;
}

int adm_store_check(enum store_rc r, const char *what, const char *name,
                    const char *doing)
{
	if (r == STORE_NOT_FOUND)
		return adm_fail(ADM_EXIT_RUNTIME, "%s '%s' not found", what, name);
	if (r != STORE_OK)
		return adm_store_fail(r, doing);
	return ADM_EXIT_OK;
}

/* The two lookups live here, beside adm_filter_lookup, their shared
 * user: the commands call them, this file calls no command. */
int adm_client_get(struct store *s, const char *id, struct store_client *out)
{
	return adm_store_check(store_client_get(s, id, out), "client", id,
	                       "reading the client");
}

int adm_user_get(struct store *s, const char *username, struct store_user *out)
{
	return adm_store_check(store_user_get(s, username, out), "user",
	                       username, "reading the user");
}

int adm_filter_lookup(const struct adm_ctx *ctx, struct store_user *u)
{
	const char *client_id = adm_str(ctx->args, OPT_CLIENT);
	const char *username = adm_str(ctx->args, OPT_USER);
	int rc = ADM_EXIT_OK;
	if (client_id != NULL) {
		struct store_client c = {0};
		rc = adm_client_get(ctx->store, client_id, &c);
		store_client_clear(&c);
	}
	if (rc == ADM_EXIT_OK && username != NULL)
		rc = adm_user_get(ctx->store, username, u);
	return rc;
}

/* `latchkey migrate`: the dispatcher opened the store without migrating. */
int cmd_migrate(struct adm_ctx *ctx)
{
	int applied, schema;
	int rc = migrate(ctx->store, ctx->db, &applied, &schema);
	if (rc != ADM_EXIT_OK)
		return rc;
	if (ctx->json) {
		adm_json_print(json_pack("{s:i, s:i}", "applied", applied,
		                         "schema_version", schema));
		return ADM_EXIT_OK;
	}
	printf("applied %d migration(s); schema version %d\n", applied, schema);
	return ADM_EXIT_OK;
}

/* ---- output ------------------------------------------------------------- */

const char *adm_time(int64_t t, char buf[ADM_TIME_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, ADM_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, ADM_TIME_LEN, "%lld", (long long)t);
	return buf;
}

void adm_json_print(json_t *j)
{
	if (j == NULL)
		abort(); /* out of memory, or a bug: a non-UTF-8 "s" to pack */
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(j);
}

json_t *adm_json_str(const char *s)
{
	return store_json_str(s);
}

void adm_table_init(struct adm_table *t, size_t ncols,
                    const char *const *header)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	if (header != NULL)
		adm_table_add(t, header);
}

void adm_table_add(struct adm_table *t, const char *const *cells)
{
	char **grown = realloc(t->cells,
	                       (t->nrows + 1) * t->ncols * sizeof(*grown));
	if (grown == NULL)
		abort();
	for (size_t i = 0; i < t->ncols; i++) {
		const char *c = cells[i];
		grown[t->nrows * t->ncols + i] =
		    xstrdup(c != NULL && *c != '\0' ? c : "-");
	}
	t->cells = grown;
	t->nrows++;
}

/* Columns on a terminal, roughly: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void adm_table_end(struct adm_table *t, bool print)
{
	size_t width[16] = {0};
	size_t n = t->nrows * t->ncols;
	if (t->ncols > sizeof(width) / sizeof(width[0]))
		abort(); /* a programming error: no table is that wide */
	for (size_t i = 0; i < n; i++) {
		size_t w = text_width(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t i = 0; i < n; i++) {
		size_t col = i % t->ncols;
		if (print && col + 1 < t->ncols)
			printf("%s%*s", t->cells[i],
			       (int)(width[col] - text_width(t->cells[i]) + 2),
			       "");
		else if (print)
			printf("%s\n", t->cells[i]);
		free(t->cells[i]);
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

int adm_listing_init(struct adm_listing *l, const struct adm_ctx *ctx,
                     size_t ncols, const char *const *header)
{
	const char *limit = adm_str(ctx->args, OPT_LIMIT);
	const char *since = adm_str(ctx->args, OPT_SINCE);
	memset(l, 0, sizeof(*l));
	if (limit != NULL && adm_limit_parse(limit, &l->page.limit) != 0)
		return adm_fail(ADM_EXIT_USAGE, "invalid --limit '%s': a whole "
		                "number of rows from 1 to %d", limit,
		                ADM_LIMIT_MAX);
	if (since != NULL && adm_time_parse(since, &l->page.since) != 0)
		return adm_fail(ADM_EXIT_USAGE, "invalid --since '%s': a time "
		                "as RFC 3339 (2026-12-01T12:00:00Z) or seconds "
		                "since the epoch", since);
	if (limit == NULL && !ctx->json)
		l->page.limit = ADM_LIST_TEXT_ROWS;
	/* Only text says how many more there are: asking for the count
	 * costs the store a second scan, which --json would never print. */
	if (!ctx->json)
		l->page.matched = &l->matched;
	l->json = ctx->json;
	l->rows = ctx->json ? json_array() : NULL;
	adm_table_init(&l->table, ncols, ctx->json ? NULL : header);
	return ADM_EXIT_OK;
}

void adm_listing_add(struct adm_listing *l, json_t *obj,
                     const char *const *cells)
{
	l->shown++;
	if (l->json) {
		json_array_append_new(l->rows, obj);
	} else {
		adm_table_add(&l->table, cells); /* cells may point into obj */
		json_decref(obj);
	}
}

void adm_listing_end(struct adm_listing *l, bool print)
{
	if (l->json && print)
		adm_json_print(l->rows);
	else
		json_decref(l->rows);
	l->rows = NULL;
	adm_table_end(&l->table, print);
	/* The store reads the count in the statement that reads the rows
	 * (store_page), so both are one snapshot: the "more" is what was
	 * left out then, whatever was created or removed since. */
	if (print && !l->json && l->matched > l->shown)
		printf("... and %lld more (use --limit N or --json)\n",
		       (long long)(l->matched - l->shown));
}

int adm_listing_done(struct adm_listing *l, enum store_rc r,
                     const char *doing)
{
	adm_listing_end(l, r == STORE_OK);
	return r == STORE_OK ? ADM_EXIT_OK : adm_store_fail(r, doing);
}

/* ---- option values ------------------------------------------------------ */

/* "default" is the CLI's word for the server's setting; every other value
 * must pass core's rule (validate.h). */

/* Digits only, at most max; false for "", signs, spaces and overflow. */
static bool whole_number(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;
	if (*s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > max)
			return false; /* also stops long inputs before overflow */
	}
	*out = v;
	return true;
}

int adm_ttl_parse(const char *s, int64_t *out)
{
	if (strcmp(s, "default") == 0) {
		*out = 0;
		return 0;
	}
	int64_t v;
	if (!whole_number(s, VALID_TTL_MAX, &v) || !valid_ttl(v))
		return -1;
	*out = v;
	return 0;
}

int adm_limit_parse(const char *s, int64_t *out)
{
	int64_t v;
	if (!whole_number(s, ADM_LIMIT_MAX, &v) || v < 1)
		return -1;
	*out = v;
	return 0;
}

/* The ±HH:MM or Z that ends an RFC 3339 date-time, as seconds east of
 * UTC; false for anything else. */
static bool utc_offset(const char *s, long *east)
{
	int hh, mm, n = 0;
	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*east = 0;
		return true;
	}
	if ((s[0] != '+' && s[0] != '-') ||
	    sscanf(s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 ||
	    s[6] != '\0' || hh > 23 || mm > 59)
		return false;
	*east = (s[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
	return true;
}

int adm_time_parse(const char *s, int64_t *out)
{
	int64_t v;
	if (whole_number(s, INT64_C(253402300799), &v)) { /* 9999-12-31 */
		*out = v;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL || s[4] != '-' || strlen(s) < 20)
		return -1;
	if (*rest == '.') /* RFC 3339 time-secfrac: whole seconds will do */
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			;
	long east;
	if (!utc_offset(rest, &east))
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || t - east < 0)
		return -1;
	*out = (int64_t)t - east;
	return 0;
}

int adm_duration_parse(const char *s, int64_t *out)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t n = strlen(s);
	int64_t mul = 1;
	char num[24];
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[n - 1] == units[i].unit) { /* one unit at most */
			mul = units[i].secs;
			num[--n] = '\0';
			break;
		}
	int64_t v;
	if (n == 0 || !whole_number(num, ADM_DURATION_MAX, &v) ||
	    v > ADM_DURATION_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* ---- reading a password ------------------------------------------------- */

long adm_read_line(FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	bool nul = false;
	int c;
	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 >= cap) {
			buf[n] = '\0';
			return ADM_LINE_LONG;
		}
		if (c == '\0')
			nul = true;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (c == EOF && n == 0)
		return ADM_LINE_EOF;
	if (nul)
		return ADM_LINE_NUL;
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return (long)n;
}

/* Prompts on stderr and reads a line from the terminal on stdin with echo
 * off. Like getpass(3), a signal during the prompt leaves echo off; the
 * shell's `reset` restores it. */
static long prompt_hidden(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return ADM_LINE_EOF;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	long n = adm_read_line(stdin, buf, cap);
	tcsetattr(STDIN_FILENO, TCSANOW, &old);
	return n;
}

static int line_fail(long n)
{
	switch (n) {
	case ADM_LINE_EOF:
		return adm_fail(ADM_EXIT_USAGE, "no password given");
	case ADM_LINE_NUL:
		return adm_fail(ADM_EXIT_USAGE,
		                "the password holds a NUL byte");
	default:
		return adm_fail(ADM_EXIT_USAGE, "%s", VALID_PASSWORD_RULE);
	}
}

int adm_read_password(bool from_stdin, char buf[ADM_PASSWORD_BUF])
{
	long n;
	/* Unbuffered, so no copy of the password (or of what follows it)
	 * stays in stdio's buffer, where it could not be wiped. Costs one
	 * read(2) per byte of at most one line. */
	setvbuf(stdin, NULL, _IONBF, 0);
	if (from_stdin) {
		n = adm_read_line(stdin, buf, ADM_PASSWORD_BUF);
	} else if (isatty(STDIN_FILENO)) {
		n = prompt_hidden("New password: ", buf, ADM_PASSWORD_BUF);
		if (n >= 0) {
			char again[ADM_PASSWORD_BUF];
			long m = prompt_hidden("Repeat password: ", again,
			                       sizeof(again));
			bool same = m == n && strcmp(buf, again) == 0;
			crypto_wipe(again, sizeof(again));
			if (!same)
				return adm_fail(ADM_EXIT_USAGE,
				                "the passwords do not match");
		}
	} else {
		return adm_fail(ADM_EXIT_USAGE,
		                "no password: stdin is not a terminal; "
		                "pass --password-stdin to read it from stdin");
	}
	if (n < 0 || !valid_password_length((size_t)n))
		return line_fail(n);
	return ADM_EXIT_OK;
}

/* ---- claims ------------------------------------------------------------- */

/* Whether name is one of the n values of unset. */
static bool named(const struct adm_optval *unset, const char *name)
{
	for (size_t i = 0; unset != NULL && i < unset->n; i++)
		if (strcmp(unset->v[i], name) == 0)
			return true;
	return false;
}

int adm_claims_apply(const char *stored, const struct adm_optval *set,
                     const struct adm_optval *unset, const char *what,
                     char **out)
{
	json_t *o = claims_load(stored);
	int rc = ADM_EXIT_OK;
	*out = NULL;
	if (o == NULL)
		o = json_object(); /* unreadable: replaced, not kept */
	for (size_t i = 0; set != NULL && i < set->n && rc == ADM_EXIT_OK; i++) {
		char *name;
		json_t *v;
		const char *why = claim_parse(set->v[i], &name, &v);
		if (why != NULL && name != NULL)
			rc = adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s", what,
			              name, why);
		else if (why != NULL)
			rc = adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s", what,
			              set->v[i], why);
		else if (named(unset, name)) {
			rc = adm_fail(ADM_EXIT_USAGE, "the %s '%s' is both set "
			              "and unset", what, name);
			json_decref(v);
		} else
			json_object_set_new(o, name, v);
		free(name);
	}
	for (size_t i = 0; unset != NULL && i < unset->n && rc == ADM_EXIT_OK;
	     i++) {
		if (!valid_claim_name(unset->v[i]))
			rc = adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s", what,
			              unset->v[i], VALID_CLAIM_NAME_RULE);
		else
			json_object_del(o, unset->v[i]);
	}
	const char *bad = NULL;
	const char *why = rc == ADM_EXIT_OK ? claims_check(o, &bad) : NULL;
	if (why != NULL && bad != NULL)
		rc = adm_fail(ADM_EXIT_USAGE, "invalid %s '%s': %s", what, bad,
		              why);
	else if (why != NULL)
		rc = adm_fail(ADM_EXIT_USAGE, "too many %ss: %s", what, why);
	if (rc == ADM_EXIT_OK)
		*out = claims_dump(o);
	json_decref(o);
	return rc;
}

/* ---- keys ------------------------------------------------------------------ */

int adm_read_jwks_file(const char *path, char **text)
{
	if (*path == '\0') {
		*text = xstrdup("");
		return ADM_EXIT_OK;
	}
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return adm_fail(ADM_EXIT_USAGE, "--jwks %s: %s", path,
		                strerror(errno));
	*text = xcalloc(1, JWKS_MAX_LEN + 2);
	size_t n = fread(*text, 1, JWKS_MAX_LEN + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || n > JWKS_MAX_LEN || memchr(*text, '\0', n) != NULL) {
		free(*text);
		*text = NULL;
		return adm_fail(ADM_EXIT_USAGE, "--jwks %s: %s", path,
		                bad ? "cannot be read"
		                    : "not a JWKS document of at most 65536 "
		                      "bytes");
	}
	return ADM_EXIT_OK;
}

/*
 * cli.h: declarations shared by the files of the admin CLI `latchkey`.
 *
 * Layout of the module:
 *   main.c        the command table and the dispatcher (parse, look up,
 *                 check options and arity, open the store, run a handler)
 *   cli_util.c    the option table and parser, errors, looking up a
 *                 client or user, opening the store
 *                 and `migrate`, output helpers (JSON, tables, times),
 *                 option values, password input
 *   cmd_client.c  `client ...`     cmd_user.c   `user ...`
 *   cmd_token.c   `token ...`      cmd_key.c    `key ...`
 *   cmd_consent.c `consent ...`    audit.c      `audit list`, and the
 *                                  audit trail every change writes
 *   cmd_db.c      `purge`, `backup`, `copy`: the database itself
 *
 * Everything else in those files is static. The parsers of option values
 * are declared here so tests/unit/test_cli_args.c can exercise them
 * directly; the rules they apply are core's (validate.h).
 *
 * Ownership: option values and positional arguments are borrowed from
 * argv; struct adm_args owns only the arrays that point into it.
 */
#ifndef LK_CLI_H
#define LK_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "store.h"
#include "validate.h"

/* ---- exit statuses ------------------------------------------------------ */

enum {
	ADM_EXIT_OK = 0,
	ADM_EXIT_RUNTIME = 1, /* not found, conflict, database error */
	ADM_EXIT_USAGE = 2,   /* unknown command or option, bad value */
};

/* ---- options -------------------------------------------------------------
 * One table (adm_opts[] in cli_util.c) names every option of every command.
 * An option has the same meaning and arity wherever it appears, so the
 * whole command line can be parsed before the command is known; each
 * command then says which options apply to it (a mask of ADM_O bits). To
 * add an option: one enum value here, one row in adm_opts[], its bit in the
 * commands that take it (main.c), and the code that reads it (for a client
 * setting, a row in cmd_client.c's client_opts[] over the client spec's
 * field, store.h). */
enum adm_opt {
	/* global: every command takes these */
	OPT_DB = 0,
	OPT_CONFIG,
	OPT_JSON,
	OPT_HELP,
	OPT_VERSION,
	/* command options */
	OPT_ID,
	OPT_NAME,
	OPT_SECRET,
	OPT_PUBLIC,
	OPT_GRANT,
	OPT_SCOPE,
	OPT_REDIRECT_URI,
	OPT_ACCESS_TOKEN_TTL,
	OPT_REFRESH_TOKEN_TTL,
	OPT_ON_REFRESH,
	OPT_ISSUE_REFRESH_TOKEN,
	OPT_NO_ISSUE_REFRESH_TOKEN,
	OPT_DEFAULT_ISSUE_REFRESH_TOKEN,
	OPT_AUTO_APPROVE_AS,
	OPT_AUDIENCE,
	OPT_INTROSPECT,
	OPT_NO_INTROSPECT,
	OPT_ID_TOKEN_ALG,     /* OpenID Connect: ID tokens */
	OPT_REQUIRE_NONCE,
	OPT_NO_REQUIRE_NONCE,
	OPT_ALLOW_WEAK_SECRET,
	OPT_PASSWORD_STDIN,
	OPT_CLIENT,
	OPT_ACTIVE,
	OPT_REFRESH,
	OPT_FAMILY,
	OPT_USER,
	OPT_ALG,
	OPT_FORCE,
	OPT_FROM,
	OPT_TO,
	OPT_LIMIT,
	OPT_SINCE,
	/* OpenID Connect claims (docs/openid-connect.md, "Claims") */
	OPT_CLAIM,
	OPT_UNSET_CLAIM,
	OPT_ACCESS_TOKEN_CLAIM,
	OPT_UNSET_ACCESS_TOKEN_CLAIM,
	OPT_RELEASE_CLAIM,
	OPT_POST_LOGOUT_REDIRECT_URI,
	OPT_LOGOUT_REVOKES_REFRESH_TOKENS,
	OPT_NO_LOGOUT_REVOKES_REFRESH_TOKENS,
	OPT_GRACE, /* client rotate-secret (issue 17) */
	OPT_OBJECT, /* audit list */
	OPT_ACTOR,
	OPT_NEXT, /* key add */
	OPT_ADMIN, /* client add/update: may hold latchkey:admin */
	OPT_NO_ADMIN,
	OPT_JWKS, /* client add/update: private_key_jwt (issue 19) */
	OPT_TOKEN_ENDPOINT_AUTH_METHOD,
	OPT_JWKS_URI,
	OPT_REQUIRE_DPOP, /* client add/update: RFC 9449 (issue 19) */
	OPT_NO_REQUIRE_DPOP,
	/* client add/update: RFC 8705 tls_client_auth (issue 19) */
	OPT_TLS_SUBJECT_DN,
	OPT_TLS_SAN_DNS,
	OPT_TLS_SAN_URI,
	ADM_OPT__MAX
};

#define ADM_O(opt) ((uint64_t)1 << (opt))
#define ADM_O_GLOBAL (ADM_O(OPT_DB) | ADM_O(OPT_CONFIG) | ADM_O(OPT_JSON) | \
                      ADM_O(OPT_HELP) | ADM_O(OPT_VERSION))

enum adm_opt_flags {
	ADM_OPT_ARG = 1 << 0,  /* takes a value */
	ADM_OPT_LIST = 1 << 1, /* may repeat; every value is kept, in order */
};

struct adm_opt_def {
	const char *name;    /* long name without the dashes */
	int flags;           /* ADM_OPT_* */
	const char *metavar; /* for --help; NULL for flags */
	const char *help;
};
extern const struct adm_opt_def adm_opts[ADM_OPT__MAX];

/* Every occurrence of one option: n times, values v[0..n) (NULL for flags,
 * and for a non-list option n is at most 1). */
struct adm_optval {
	size_t n;
	const char **v;
};

struct adm_args {
	struct adm_optval opt[ADM_OPT__MAX];
	const char **pos; /* command words and arguments, in order */
	size_t npos;
};

/* Parses argv[1..argc) against adm_opts[]. Options may come before, between
 * or after the words; "--" ends the options. Returns 0, or -1 with a usage
 * message in err. Release a with adm_args_free in either case. */
int adm_args_parse(int argc, char **argv, struct adm_args *a, char *err,
                   size_t errlen);
void adm_args_free(struct adm_args *a);
bool adm_has(const struct adm_args *a, enum adm_opt o);
/* The value of a non-list option, or NULL when it was not given. */
const char *adm_str(const struct adm_args *a, enum adm_opt o);

/* ---- commands ----------------------------------------------------------- */

/* What a handler works with. The dispatcher opened (and, unless the
 * command says otherwise, migrated) store; argv are the arguments after the
 * command words, already checked against the command's arity. */
struct adm_ctx {
	const struct adm_args *args;
	const char *const *argv;
	size_t argc;
	struct store *store;
	const char *db; /* what store is: adm_db_path's answer */
	/* The settings (adm_config_load: --config, $LATCHKEY_CONFIG, else
	 * the defaults); NULL for commands that open no single database. */
	const struct lk_config *cfg;
	bool json;
};

/* A handler returns an ADM_EXIT_* status, having printed any error. */
typedef int (*adm_handler)(struct adm_ctx *ctx);

int cmd_migrate(struct adm_ctx *ctx);
int cmd_client_add(struct adm_ctx *ctx);
int cmd_client_update(struct adm_ctx *ctx);
int cmd_client_list(struct adm_ctx *ctx);
int cmd_client_show(struct adm_ctx *ctx);
int cmd_client_remove(struct adm_ctx *ctx);
int cmd_client_rotate_secret(struct adm_ctx *ctx);
int cmd_client_disable(struct adm_ctx *ctx);
int cmd_audit_list(struct adm_ctx *ctx);
int cmd_key_add(struct adm_ctx *ctx);

/* ---- audit.c: the audit trail ------------------------------------------- */

/* The fields whose values differ between before and after (JSON objects
 * of a record, without secrets; either NULL for an add or a removal), as
 * {"field": {"old": .., "new": ..}}; updated_at left out. Takes both. */
json_t *adm_changes(json_t *before, json_t *after);
/* Records a change that was made: action ("client.disable"), object
 * ("client:ID") and changes (taken; NULL: none named). ADM_EXIT_OK, or
 * ADM_EXIT_RUNTIME when the store could not record it (reported). */
int adm_audit(const struct adm_ctx *ctx, const char *action,
              const char *object, json_t *changes);
/* --jwks FILE: the file's text in *text (caller frees), at most
 * JWKS_MAX_LEN bytes; '' for none. ADM_EXIT_OK, or a usage error
 * reported. */
int adm_read_jwks_file(const char *path, char **text);
int cmd_client_enable(struct adm_ctx *ctx);
int cmd_user_add(struct adm_ctx *ctx);
int cmd_user_passwd(struct adm_ctx *ctx);
int cmd_user_remove(struct adm_ctx *ctx);
int cmd_user_list(struct adm_ctx *ctx);
int cmd_user_update(struct adm_ctx *ctx);
int cmd_user_show(struct adm_ctx *ctx);
int cmd_token_list(struct adm_ctx *ctx);
int cmd_token_revoke(struct adm_ctx *ctx);
int cmd_key_list(struct adm_ctx *ctx);
int cmd_key_rotate(struct adm_ctx *ctx);
int cmd_consent_list(struct adm_ctx *ctx);
int cmd_issuer_add(struct adm_ctx *ctx);
int cmd_issuer_list(struct adm_ctx *ctx);
int cmd_issuer_remove(struct adm_ctx *ctx);
int cmd_resource_add(struct adm_ctx *ctx);
int cmd_resource_list(struct adm_ctx *ctx);
int cmd_resource_remove(struct adm_ctx *ctx);
int cmd_consent_revoke(struct adm_ctx *ctx);
int cmd_session_list(struct adm_ctx *ctx);
int cmd_session_revoke(struct adm_ctx *ctx);
int cmd_purge(struct adm_ctx *ctx);
int cmd_backup(struct adm_ctx *ctx);
/* Opens its own two stores (--from, --to): ctx->store is NULL. */
int cmd_copy(struct adm_ctx *ctx);

/* ---- errors and the store ----------------------------------------------- */

/* Prints "latchkey: <message>" on stderr. */
void adm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* adm_err, then returns status: `return adm_fail(ADM_EXIT_USAGE, ...)`. */
int adm_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Reports a storage failure while doing `what`; returns ADM_EXIT_RUNTIME. */
int adm_store_fail(enum store_rc rc, const char *what);

/* The status for a store result r about the what ("client") named name:
 * ADM_EXIT_OK for STORE_OK, "WHAT 'NAME' not found" for STORE_NOT_FOUND,
 * else the storage failure while doing `doing`. */
int adm_store_check(enum store_rc r, const char *what, const char *name,
                    const char *doing);
/* store_client_get, reporting "client 'ID' not found" and storage errors.
 * Returns ADM_EXIT_OK with *out filled (store_client_clear it), or the
 * status to exit with. */
int adm_client_get(struct store *s, const char *id, struct store_client *out);
/* store_user_get, the same way: "user 'NAME' not found". */
int adm_user_get(struct store *s, const char *username, struct store_user *out);
/* Looks up the --client and --user of a command that takes them as
 * filters: an unknown one is reported (it is more likely a typo than one
 * with nothing to show). With --user, *u is the user; u->user_id stays
 * NULL without it. Release u with store_user_clear in either case. */
int adm_filter_lookup(const struct adm_ctx *ctx, struct store_user *u);

/* The settings the CLI shares with latchkeyd, read from the same table
 * (core/config.c): the defaults, then the server's INI file named by
 * --config, else $LATCHKEY_CONFIG when neither --db nor $LATCHKEY_DB
 * names the database, if any. Returns ADM_EXIT_OK, or
 * reports the file's error and returns ADM_EXIT_USAGE. Release cfg with
 * config_free in either case. */
int adm_config_load(const struct adm_args *a, struct lk_config *cfg);
/* The database: --db, else $LATCHKEY_DB, else cfg's db (the --config
 * file's, else the default ./latchkey.db), so on a packaged install the
 * CLI finds the service's. Borrowed from a, the environment or cfg. */
const char *adm_db_path(const struct adm_args *a, const struct lk_config *cfg);
/* Opens the store at path (durability full: every commit synced; the
 * PostgreSQL timeouts are cfg's) and, with migrate_first, applies pending
 * migrations. Returns ADM_EXIT_OK with *out set (free with store_close),
 * or prints the store's message and returns ADM_EXIT_RUNTIME. */
int adm_store_open(const char *path, const struct lk_config *cfg,
                   bool migrate_first, struct store **out);

/* ---- output ------------------------------------------------------------- */

#define ADM_TIME_LEN 32
/* t as ISO 8601 UTC ("2024-05-01T12:00:00Z") in buf; returns buf. */
const char *adm_time(int64_t t, char buf[ADM_TIME_LEN]);

/* Prints j (indented) and a newline on stdout, and releases j. */
void adm_json_print(json_t *j);
/* A JSON string for s; null when s is NULL or not valid UTF-8 (the
 * store's store_json_str, under the CLI's name). */
json_t *adm_json_str(const char *s);

/* A text table: rows of ncols cells printed in aligned columns. */
struct adm_table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols copies */
};
/* header: ncols column titles, or NULL for a table without a header. */
void adm_table_init(struct adm_table *t, size_t ncols,
                    const char *const *header);
/* Appends one row of ncols cells (copied; NULL or "" prints as "-"). */
void adm_table_add(struct adm_table *t, const char *const *cells);
/* Prints the table on stdout (unless print is false), then frees it. */
void adm_table_end(struct adm_table *t, bool print);

/* The output of a list command: a JSON array with --json, else a table.
 * A store_*_list callback adds each row to whichever one is in use.
 * page is what the store is asked for (DECISIONS.md, "Listing at
 * scale"): the rows created at or after --since, and of them the newest
 * --limit; without --limit, text shows the newest ADM_LIST_TEXT_ROWS and
 * says how many more there are, --json shows every row, so scripts keep
 * working. */
#define ADM_LIST_TEXT_ROWS 100
struct adm_listing {
	bool json;
	json_t *rows;          /* with json */
	struct adm_table table; /* without */
	struct store_page page; /* hand &page to the store's listing */
	int64_t matched;       /* the store's count: text, with a limit */
	int64_t shown;
};
/* Reads --limit and --since, then starts the listing. Returns
 * ADM_EXIT_OK, or reports a bad value and returns ADM_EXIT_USAGE with
 * nothing to free. l must not move until adm_listing_end. */
int adm_listing_init(struct adm_listing *l, const struct adm_ctx *ctx,
                     size_t ncols, const char *const *header);
/* Adds obj with --json, else the ncols cells (copied before obj is
 * released, so they may point into it); takes obj either way. */
void adm_listing_add(struct adm_listing *l, json_t *obj,
                     const char *const *cells);
/* Prints the listing (unless print is false) and, for text cut short,
 * a line saying how many rows more there are; then frees it. */
void adm_listing_end(struct adm_listing *l, bool print);
/* The end of a listing whose rows came with store result r: printed and
 * ADM_EXIT_OK when r is STORE_OK, else the storage failure while doing
 * `doing`, with nothing printed on stdout. */
int adm_listing_done(struct adm_listing *l, enum store_rc r,
                     const char *doing);

/* ---- values in the CLI's own syntax --------------------------------------
 * The rules themselves (lengths, characters, known names) are core's
 * (validate.h), shared with latchkeyd's fixtures file; these add the
 * CLI's words for "the server's setting". */

/* A whole number of seconds 1..VALID_TTL_MAX, or "default" (*out = 0, the
 * server's default). Returns 0, or -1 with *out untouched. */
int adm_ttl_parse(const char *s, int64_t *out);
/* --limit: a whole number of rows, 1..ADM_LIMIT_MAX. Returns 0, or -1
 * with *out untouched. */
#define ADM_LIMIT_MAX 1000000000
int adm_limit_parse(const char *s, int64_t *out);
/* --since: seconds since the epoch, or an RFC 3339 date-time
 * ("2026-12-01T12:00:00Z", fractions ignored, "+02:00" offsets applied).
 * Returns 0, or -1 with *out untouched. */
int adm_time_parse(const char *s, int64_t *out);
/* A duration: whole seconds, or a number with s, m, h or d ("90s",
 * "15m", "2h", "7d"), at most ADM_DURATION_MAX seconds. Returns 0, or -1
 * with *out untouched. */
#define ADM_DURATION_MAX (90 * 86400)
int adm_duration_parse(const char *s, int64_t *out);
/* The values ov of an option that sets client field f, read into *v for
 * client_spec_set (store.h), which checks them by the field's rule: for
 * a lifetime, on_refresh policy or auto_approve_as user, 'default' is
 * the server's setting; how and state are v's (a list option's
 * CLIENT_WORDS_*, the state a flag sets). False only when a lifetime is
 * no number of seconds (adm_ttl_parse). cmd_client.c's options read
 * their values through this. */
bool adm_client_value(enum client_field f, const struct adm_optval *ov,
                      int how, enum store_tristate state,
                      struct client_value *v);

/* Applies KEY=VALUE claims (set, n_set of them) and then removes the
 * names of unset (n_unset) to the claims stored as text (NULL: none),
 * into *out (caller frees; as claims_dump writes it). what names them
 * in messages ("claim", "access-token claim"). Returns ADM_EXIT_OK, or
 * reports the refusal (a bad name or value, a name both set and unset,
 * too large a set) and returns ADM_EXIT_USAGE with *out NULL. */
int adm_claims_apply(const char *stored, const struct adm_optval *set,
                     const struct adm_optval *unset, const char *what,
                     char **out);

/* ---- secrets from the operator ------------------------------------------ */

/* Reads a new password into buf (VALID_PASSWORD_MAX + 2 bytes): with
 * from_stdin the first line of stdin; else, when stdin is a terminal, a
 * prompt twice without echo. Checks the length. Returns ADM_EXIT_OK, or
 * prints why and returns ADM_EXIT_USAGE. The caller wipes buf. */
#define ADM_PASSWORD_BUF (VALID_PASSWORD_MAX + 2)
int adm_read_password(bool from_stdin, char buf[ADM_PASSWORD_BUF]);
/* Reads one line from f into buf without its "\n" (and a "\r" before it).
 * At most cap - 1 bytes are accepted. Returns the length, ADM_LINE_EOF at
 * end of input with nothing read, ADM_LINE_LONG for a longer line or
 * ADM_LINE_NUL for a line holding a NUL byte. */
enum { ADM_LINE_EOF = -1, ADM_LINE_LONG = -2, ADM_LINE_NUL = -3 };
long adm_read_line(FILE *f, char *buf, size_t cap);

#endif

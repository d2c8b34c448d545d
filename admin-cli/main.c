/*
 * main.c: the `latchkey` admin CLI's command table and dispatcher.
 *
 * Like redis's command table and processCommand(), every check that is the
 * same for all commands happens here, once, before a handler runs: the
 * command words are looked up, the options are checked against the ones
 * the command takes, the argument count against its arity, and the store
 * is opened (and, when it is new and empty, migrated; an older schema is
 * refused: only `migrate` upgrades one). A handler (cmd_*.c) only does its own work.
 * Usage output is generated from the same table, so it cannot drift.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileperm.h"
#include "strutil.h"
#include "version.h"

enum cmd_flags {
	CMD_NO_MIGRATE = 1 << 0, /* the command migrates (or not) by itself */
	CMD_EXISTING_DB = 1 << 1, /* refuse a database file that is missing,
	                           * rather than create an empty one */
	CMD_OWN_STORES = 1 << 2,  /* opens the databases its options name;
	                           * --db does not apply */
	CMD_NO_STORE = 1 << 3,    /* touches no database at all */
};

/* One row per command. The dispatcher checks the options against opts and
 * the number of arguments against min_args..max_args before fn runs. */
struct adm_cmd {
	const char *name;     /* first word: "client" */
	const char *sub;      /* second word: "add"; NULL for one word */
	adm_handler fn;
	uint64_t opts;        /* ADM_O() bits besides the global options */
	size_t min_args;      /* arguments after the command words */
	size_t max_args;
	int flags;            /* CMD_* */
	const char *synopsis; /* the arguments, for usage lines */
	const char *summary;  /* one line for the command list */
	const char *detail;   /* more for `latchkey CMD --help`, or NULL */
};

#define CLIENT_FIELDS                                                    \
	(ADM_O(OPT_GRANT) | ADM_O(OPT_SCOPE) | ADM_O(OPT_REDIRECT_URI) | \
	 ADM_O(OPT_ACCESS_TOKEN_TTL) | ADM_O(OPT_REFRESH_TOKEN_TTL) |     \
	 ADM_O(OPT_ON_REFRESH) | ADM_O(OPT_ISSUE_REFRESH_TOKEN) |         \
	 ADM_O(OPT_NO_ISSUE_REFRESH_TOKEN) |                              \
	 ADM_O(OPT_DEFAULT_ISSUE_REFRESH_TOKEN) | ADM_O(OPT_AUTO_APPROVE_AS) | \
	 ADM_O(OPT_AUDIENCE) | ADM_O(OPT_INTROSPECT) |                    \
	 ADM_O(OPT_NO_INTROSPECT) | CLIENT_CLAIM_FIELDS |                 \
	 ADM_O(OPT_ADMIN) | ADM_O(OPT_NO_ADMIN) | ADM_O(OPT_JWKS) |       \
	 ADM_O(OPT_TOKEN_ENDPOINT_AUTH_METHOD) | ADM_O(OPT_JWKS_URI) |    \
	 ADM_O(OPT_ID_TOKEN_ALG) | ADM_O(OPT_REQUIRE_NONCE) |             \
	 ADM_O(OPT_NO_REQUIRE_NONCE) | CLIENT_LOGOUT_FIELDS |             \
	 ADM_O(OPT_REQUIRE_DPOP) | ADM_O(OPT_NO_REQUIRE_DPOP) |           \
	 ADM_O(OPT_TLS_SUBJECT_DN) | ADM_O(OPT_TLS_SAN_DNS) |             \
	 ADM_O(OPT_TLS_SAN_URI))
/* OpenID Connect claims (docs/openid-connect.md, "Claims"). */
#define CLIENT_CLAIM_FIELDS                                               \
	(ADM_O(OPT_ACCESS_TOKEN_CLAIM) | ADM_O(OPT_UNSET_ACCESS_TOKEN_CLAIM) | \
	 ADM_O(OPT_RELEASE_CLAIM))
/* RP-Initiated Logout (docs/openid-connect.md, "Logout"). */
#define CLIENT_LOGOUT_FIELDS                                              \
	(ADM_O(OPT_POST_LOGOUT_REDIRECT_URI) |                            \
	 ADM_O(OPT_LOGOUT_REVOKES_REFRESH_TOKENS) |                       \
	 ADM_O(OPT_NO_LOGOUT_REVOKES_REFRESH_TOKENS))

/* The refresh settings, for the --help of `client add` and `update`. */
#define REFRESH_DETAIL                                                   \
	"--on-refresh says what using a refresh token does to the access\n" \
	"token issued with it: nothing (it stays valid until it expires),\n" \
	"revoke, or hook (runs the server's on_refresh_hook program).\n"    \
	"--issue-refresh-token decides whether the password and\n"          \
	"authorization_code grants return refresh tokens to the client;\n"  \
	"client_credentials returns one only when it is on. Only a client\n" \
	"with the refresh_token grant gets refresh tokens. 'default' and\n" \
	"--default-issue-refresh-token mean the server's setting.\n\n"      \
	"--auto-approve-as is for test suites only: /authorize approves\n" \
	"every request of this client as that user without a login or\n"  \
	"consent page. '' turns it off for this client, 'default' leaves\n" \
	"it to the server's setting. The user need not exist yet.\n\n"   \
	"--audience sets the aud of the client's access tokens (several:\n" \
	"a JSON array); a token request's resource parameter may pick\n"  \
	"one. Without any: the server's audience setting, else its\n"     \
	"issuer. --introspect lets the client call /introspect when the\n" \
	"server's introspection_requires_flag is on.\n\n"                \
	"--access-token-claim KEY=VALUE puts a claim in every access\n"   \
	"token of the client (VALUE as for user --claim; merged per key,\n" \
	"--unset-access-token-claim removes one). --release-claim NAME\n" \
	"gives the client a user claim in its ID tokens, at userinfo and\n" \
	"in its access tokens, whatever the scope (a list: replaces the\n" \
	"whole list, '' empties it).\n\n"                               \
	"OpenID Connect: --id-token-signed-response-alg signs the client's\n" \
	"ID tokens with RS256 (the default) or ES256; --require-nonce makes\n" \
	"/authorize refuse a request for openid without a nonce.\n\n"                  \
	"--post-logout-redirect-uri registers where the logout endpoint\n" \
	"may send the browser back (OpenID Connect RP-Initiated Logout),\n" \
	"matched as redirect URIs are. With\n"                             \
	"--logout-revokes-refresh-tokens, a logout this client asks for\n" \
	"(its id_token_hint or client_id) also revokes the refresh\n"     \
	"tokens this client got from the ended session (no other\n"      \
	"client's); off by default: the tokens live on until they\n"     \
	"expire or are revoked.\n\n"                                     \
	"--require-dpop makes /token refuse the client's requests\n"     \
	"without a DPoP proof (RFC 9449), so that all its access tokens\n" \
	"are bound to its key."

/* The claims of `user add` and `user update` (docs/openid-connect.md). */
#define CLAIM_DETAIL                                                      \
	"--claim KEY=VALUE: a VALUE that reads as JSON is JSON (true, 42,\n" \
	"'[\"ops\"]'), anything else a string (ada@example.com). Names the\n" \
	"server sets itself (sub, iss, aud, exp, iat, nonce, ...) are\n"     \
	"refused, and standard claims need their type (email_verified\n"    \
	"true or false, address an object, updated_at a number, the\n"      \
	"others strings). The scopes profile, email, address and phone\n"  \
	"release the standard claims; other claims go only to clients\n"   \
	"that name them with --release-claim."

static int cmd_completion(struct adm_ctx *ctx);

/* Every list command takes these (DECISIONS.md, "Listing at scale"). */
#define LIST_OPTS (ADM_O(OPT_LIMIT) | ADM_O(OPT_SINCE))
#define LIST_DETAIL                                                       \
	"Text shows the newest 100 rows (by when they were created) and a\n" \
	"line saying how many more there are; --json shows every row.\n"     \
	"--limit N shows the newest N either way; --since TIME only rows\n"  \
	"created at or after TIME (2026-12-01T12:00:00Z, or seconds\n"       \
	"since the epoch). Rows keep the list's own order."

static const struct adm_cmd commands[] = {
	{.name = "migrate", .fn = cmd_migrate, .flags = CMD_NO_MIGRATE,
	 .synopsis = "", .summary = "apply pending database migrations",
	 .detail = "Creates the database when it does not exist. Every other\n"
	           "command refuses a database whose schema is older than this\n"
	           "binary (run this first); a new, empty database is created\n"
	           "and migrated by any."},

	{.name = "client", .sub = "add", .fn = cmd_client_add,
	 .opts = CLIENT_FIELDS | ADM_O(OPT_ID) | ADM_O(OPT_SECRET) |
	         ADM_O(OPT_PUBLIC) | ADM_O(OPT_ALLOW_WEAK_SECRET),
	 .min_args = 1, .max_args = 1, .synopsis = "NAME",
	 .summary = "register a client and print its id and secret",
	 .detail = "The secret is printed once and only its hash is stored.\n"
	           "A --secret needs 16 characters or more; --allow-weak-\n"
	           "secret accepts a shorter one (and says so on stderr).\n"
	           "Without --grant, a confidential client gets\n"
	           "client_credentials and a public client authorization_code\n"
	           "and refresh_token.\n\n" REFRESH_DETAIL},
	{.name = "client", .sub = "update", .fn = cmd_client_update,
	 .opts = CLIENT_FIELDS | ADM_O(OPT_NAME),
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "change a client's settings (not its type or secret)",
	 .detail = "A list option (--grant, --scope, --redirect-uri,\n"
	           "--audience, --release-claim, --post-logout-redirect-uri)\n"
	           "replaces the whole list; an empty value ('') empties it.\n\n"
	           REFRESH_DETAIL},
	{.name = "client", .sub = "list", .fn = cmd_client_list,
	 .opts = LIST_OPTS, .synopsis = "", .summary = "list clients",
	 .detail = LIST_DETAIL},
	{.name = "client", .sub = "show", .fn = cmd_client_show,
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "show one client (never its secret)"},
	{.name = "client", .sub = "remove", .fn = cmd_client_remove,
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "remove a client and its token records"},
	{.name = "client", .sub = "rotate-secret",
	 .fn = cmd_client_rotate_secret, .opts = ADM_O(OPT_GRACE),
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "give a confidential client a new generated secret",
	 .detail = "Without --grace the old secret stops working at once.\n"
	           "With --grace DURATION both work until the grace ends, so\n"
	           "the service can be redeployed with the new one first; a\n"
	           "second rotation ends the first one's grace. Tokens already\n"
	           "issued stay valid until they expire or are revoked."},
	{.name = "client", .sub = "disable", .fn = cmd_client_disable,
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "refuse a client everywhere, keeping its registration",
	 .detail = "A disabled client gets invalid_client at every endpoint\n"
	           "(on every latchkeyd on the database) until `client\n"
	           "enable`. Its tokens stay valid until they expire: `token\n"
	           "revoke --client ID` revokes them too."},
	{.name = "client", .sub = "enable", .fn = cmd_client_enable,
	 .min_args = 1, .max_args = 1, .synopsis = "ID",
	 .summary = "let a disabled client authenticate again"},

	{.name = "user", .sub = "add", .fn = cmd_user_add,
	 .opts = ADM_O(OPT_PASSWORD_STDIN) | ADM_O(OPT_CLAIM),
	 .min_args = 1, .max_args = 1, .synopsis = "USERNAME",
	 .summary = "add a user (for the password grant)",
	 .detail = "Without --password-stdin the password is asked for twice\n"
	           "on the terminal, without echo.\n\n" CLAIM_DETAIL},
	{.name = "user", .sub = "passwd", .fn = cmd_user_passwd,
	 .opts = ADM_O(OPT_PASSWORD_STDIN),
	 .min_args = 1, .max_args = 1, .synopsis = "USERNAME",
	 .summary = "set a user's password"},
	{.name = "user", .sub = "update", .fn = cmd_user_update,
	 .opts = ADM_O(OPT_CLAIM) | ADM_O(OPT_UNSET_CLAIM),
	 .min_args = 1, .max_args = 1, .synopsis = "USERNAME",
	 .summary = "set or remove a user's claims",
	 .detail = "--claim sets one claim and keeps the others; --unset-claim\n"
	           "removes one.\n\n" CLAIM_DETAIL},
	{.name = "user", .sub = "show", .fn = cmd_user_show,
	 .min_args = 1, .max_args = 1, .synopsis = "USERNAME",
	 .summary = "show one user and its claims (never its password)"},
	{.name = "user", .sub = "remove", .fn = cmd_user_remove,
	 .min_args = 1, .max_args = 1, .synopsis = "USERNAME",
	 .summary = "remove a user"},
	{.name = "user", .sub = "list", .fn = cmd_user_list,
	 .opts = LIST_OPTS, .synopsis = "", .summary = "list users",
	 .detail = LIST_DETAIL},

	{.name = "token", .sub = "list", .fn = cmd_token_list,
	 .opts = ADM_O(OPT_CLIENT) | ADM_O(OPT_ACTIVE) | ADM_O(OPT_REFRESH) |
	         ADM_O(OPT_FAMILY) | ADM_O(OPT_USER) | LIST_OPTS,
	 .synopsis = "", .summary = "list issued access (or refresh) tokens",
	 .detail = "The filters combine. --user takes a username. With\n"
	           "--refresh, one row per refresh token, rotated ones\n"
	           "included, so a family (one login and its refreshes)\n"
	           "reads as its history; a token is only ever shown by\n"
	           "its record, never itself.\n\n" LIST_DETAIL},
	{.name = "token", .sub = "revoke", .fn = cmd_token_revoke,
	 .opts = ADM_O(OPT_CLIENT) | ADM_O(OPT_FAMILY) | ADM_O(OPT_USER),
	 .min_args = 0, .max_args = 1,
	 .synopsis = "JTI | --client ID | --family ID | --user NAME",
	 .summary = "revoke one token, or all of a client's, family's or "
	            "user's",
	 .detail = "--client revokes a client's access and refresh tokens,\n"
	           "--family every refresh and access token of one\n"
	           "refresh-token family, --user every refresh and access\n"
	           "token issued to the user, by any client. Give exactly\n"
	           "one of: JTI, --client, --family, --user."},

	{.name = "issuer", .sub = "add", .fn = cmd_issuer_add,
	 .opts = ADM_O(OPT_CLIENT) | ADM_O(OPT_JWKS) | ADM_O(OPT_JWKS_URI) |
	         ADM_O(OPT_AUDIENCE),
	 .min_args = 1, .max_args = 1, .synopsis = "ISSUER",
	 .summary = "trust an issuer's JWTs for the jwt-bearer grant",
	 .detail = "The client --client ID (registered with --grant\n"
	           "jwt-bearer) may then trade\n"
	           "a JWT of ISSUER (its iss, exactly) for an access token\n"
	           "(RFC 7523 section 2.1): a Kubernetes cluster's service-\n"
	           "account tokens, a CI system's OIDC tokens. The issuer's\n"
	           "public keys: --jwks FILE (a JWKS document) or --jwks-uri\n"
	           "URL (fetched by the server, as a client's: jwks_uri_*\n"
	           "settings). --audience: the aud its JWTs carry; without\n"
	           "it they must name this server's issuer or token endpoint.\n"
	           "The token's sub is the JWT's."},
	{.name = "issuer", .sub = "list", .fn = cmd_issuer_list,
	 .opts = LIST_OPTS, .synopsis = "", .summary = "list trusted issuers",
	 .detail = LIST_DETAIL},
	{.name = "issuer", .sub = "remove", .fn = cmd_issuer_remove,
	 .min_args = 1, .max_args = 1, .synopsis = "ISSUER",
	 .summary = "stop trusting an issuer's JWTs",
	 .detail = "Tokens already issued for its JWTs stay valid until they\n"
	           "expire or are revoked (token revoke --client ID)."},

	{.name = "resource", .sub = "add", .fn = cmd_resource_add,
	 .opts = ADM_O(OPT_AUDIENCE) | ADM_O(OPT_SCOPE) |
	         ADM_O(OPT_ACCESS_TOKEN_TTL),
	 .min_args = 1, .max_args = 1, .synopsis = "RESOURCE",
	 .summary = "register a resource (an API tokens may be aimed at)",
	 .detail = "Token requests that name RESOURCE (the resource parameter\n"
	           "of RFC 8707, compared exactly) get tokens shaped for it:\n"
	           "aud --audience (else RESOURCE itself), only the scopes\n"
	           "given with --scope (repeatable; '' for none but openid,\n"
	           "profile, email, address and phone; without it any), and\n"
	           "a lifetime of --access-token-ttl seconds in place of the\n"
	           "server's default (a client's own lifetime, if shorter,\n"
	           "still wins). The same for clients whose own audiences\n"
	           "include RESOURCE, when they name no resource. Which\n"
	           "clients may ask for RESOURCE is their --audience list\n"
	           "(client update --audience, which takes the whole list)."},
	{.name = "resource", .sub = "list", .fn = cmd_resource_list,
	 .opts = LIST_OPTS, .synopsis = "", .summary = "list registered resources",
	 .detail = LIST_DETAIL},
	{.name = "resource", .sub = "remove", .fn = cmd_resource_remove,
	 .min_args = 1, .max_args = 1, .synopsis = "RESOURCE",
	 .summary = "remove a resource from the registry",
	 .detail = "Clients may still ask for it while it is one of their\n"
	           "audiences; their tokens then carry it as aud, with their\n"
	           "own scopes and lifetime. Tokens already issued keep\n"
	           "theirs."},

	{.name = "consent", .sub = "list", .fn = cmd_consent_list,
	 .opts = ADM_O(OPT_USER) | ADM_O(OPT_CLIENT) | LIST_OPTS,
	 .synopsis = "", .summary = "list the scopes users have allowed clients",
	 .detail = "The server remembers what a user allowed a client at\n"
	           "/authorize and does not ask again for those scopes.\n"
	           "--user takes a username; the filters combine.\n\n"
	           LIST_DETAIL},
	{.name = "consent", .sub = "revoke", .fn = cmd_consent_revoke,
	 .opts = ADM_O(OPT_USER) | ADM_O(OPT_CLIENT),
	 .synopsis = "--user NAME [--client ID]",
	 .summary = "forget a user's consents, for one client or all",
	 .detail = "The server asks the user again at the client's next\n"
	           "authorization request. Tokens already issued stay valid;\n"
	           "'token revoke --user' revokes them."},

	{.name = "session", .sub = "list", .fn = cmd_session_list,
	 .opts = ADM_O(OPT_USER) | LIST_OPTS,
	 .synopsis = "", .summary = "list users' unexpired login sessions",
	 .detail = "A session is a browser's login at /authorize (the\n"
	           "lk_session cookie); its sid is the sid claim of the ID\n"
	           "tokens issued from it. --user takes a username.\n\n"
	           LIST_DETAIL},
	{.name = "session", .sub = "revoke", .fn = cmd_session_revoke,
	 .opts = ADM_O(OPT_USER) | ADM_O(OPT_ID),
	 .synopsis = "--user NAME | --id SID",
	 .summary = "end a user's login sessions, or one by its sid",
	 .detail = "The browser must sign in again at its next /authorize\n"
	           "(prompt=none gets login_required). Tokens already issued\n"
	           "stay valid; 'token revoke --user' revokes them. Give\n"
	           "exactly one of --user and --id."},

	{.name = "key", .sub = "list", .fn = cmd_key_list,
	 .opts = LIST_OPTS, .synopsis = "", .summary = "list signing keys",
	 .detail = LIST_DETAIL},
	{.name = "key", .sub = "add", .fn = cmd_key_add,
	 .opts = ADM_O(OPT_NEXT) | ADM_O(OPT_ALG), .synopsis = "--next",
	 .summary = "publish a next signing key, used from 'key rotate' on",
	 .detail = "The first step of a staged rotation: the new key is in\n"
	           "the JWKS at once but signs nothing, so verifiers that\n"
	           "cache the JWKS (for its max-age, jwks_max_age) learn it\n"
	           "before any token carries it. Wait at least that long, then\n"
	           "'key rotate' promotes it. Without --alg, one next key per\n"
	           "algorithm; a next key already there is replaced (retired).\n"
	           "--next is required: 'key rotate' alone makes and uses a\n"
	           "new key at once."},
	{.name = "key", .sub = "rotate", .fn = cmd_key_rotate,
	 .opts = ADM_O(OPT_ALG),
	 .synopsis = "",
	 .summary = "make new signing keys the current ones",
	 .detail = "There is one current key per algorithm: ES256 and RS256\n"
	           "(access tokens use signing_alg's, ID tokens the\n"
	           "client's). Without --alg both are rotated; --alg ES256\n"
	           "or --alg RS256 rotates that one only. An algorithm with a\n"
	           "next key ('key add --next') has it promoted; one without\n"
	           "gets a new key at once. Each previous key\n"
	           "is retired: it signs nothing more, but the server keeps\n"
	           "publishing it until every access token it signed has\n"
	           "expired, and for id_token_ttl after its retirement (ID\n"
	           "tokens are not recorded). --json prints the\n"
	           "access-token key's kid, alg, created_at and previous_kid\n"
	           "(else, with --alg naming the other algorithm, that\n"
	           "key's), and \"keys\": every key rotated."},

	{.name = "audit", .sub = "list", .fn = cmd_audit_list,
	 .opts = LIST_OPTS | ADM_O(OPT_OBJECT) | ADM_O(OPT_ACTOR),
	 .synopsis = "", .summary = "list the audit trail: who changed what",
	 .detail = "One event per change made with this CLI to clients,\n"
	           "users, keys, consents, sessions and tokens: its time, its\n"
	           "actor (cli:USER, the OS user who ran the command), its\n"
	           "action (client.disable, user.remove, ...), its object\n"
	           "(client:ID, user:NAME, ...) and the fields it changed;\n"
	           "--json adds their old and new values (never a secret or a\n"
	           "hash). --object and --actor select exactly; the filters\n"
	           "combine. Events older than audit_retention are purged.\n\n"
	           LIST_DETAIL},

	{.name = "purge", .fn = cmd_purge,
	 .synopsis = "",
	 .summary = "delete expired token records, codes and sessions",
	 .detail = "What the server's purge_interval does, once, now. Goes:\n"
	           "access-token records past their expiry; a refresh-token\n"
	           "family once all its tokens have expired (until then its\n"
	           "rotated-out tokens stay, so reuse is still caught);\n"
	           "authorization codes a day past their expiry; expired\n"
	           "sessions; audit events older than audit_retention. Safe\n"
	           "while the server runs."},
	{.name = "backup", .fn = cmd_backup,
	 .opts = ADM_O(OPT_FORCE), .flags = CMD_NO_MIGRATE | CMD_EXISTING_DB,
	 .min_args = 1, .max_args = 1, .synopsis = "FILE",
	 .summary = "copy the database to FILE, safely while it is in use",
	 .detail = "The copy is the database as it was when the copy began,\n"
	           "even while the server writes to it. It is written next\n"
	           "to FILE, checked (PRAGMA integrity_check), synced, and\n"
	           "only then named FILE, with mode 0600. An existing FILE\n"
	           "is refused unless --force. The database is not migrated\n"
	           "first, so a backup taken before an upgrade is of the\n"
	           "old schema."},
	{.name = "copy", .fn = cmd_copy,
	 .opts = ADM_O(OPT_FROM) | ADM_O(OPT_TO), .flags = CMD_OWN_STORES,
	 .synopsis = "--from SOURCE --to DEST",
	 .summary = "copy a whole deployment into an empty database",
	 .detail = "Moves clients, users, signing keys, token records (the\n"
	           "retired refresh tokens too, so reuse is still caught),\n"
	           "authorization codes, sessions and consents, e.g. from a\n"
	           "SQLite file to PostgreSQL or back. SOURCE is read in one\n"
	           "snapshot and must be at this version's schema; DEST is\n"
	           "migrated, must hold no row, and is written in one\n"
	           "transaction that commits only when every table's count\n"
	           "matches SOURCE. Writes to SOURCE after the snapshot are\n"
	           "not copied: stop the servers first. --db does not apply."},

	{.name = "completion", .fn = cmd_completion, .flags = CMD_NO_STORE,
	 .min_args = 1, .max_args = 1, .synopsis = "bash",
	 .summary = "print the bash completion script for latchkey",
	 .detail = "Generated from this command table, as --help is. The\n"
	           "package installs it as\n"
	           "/usr/share/bash-completion/completions/latchkey; by hand:\n"
	           "  source <(latchkey completion bash)"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ---- usage -------------------------------------------------------------- */

static void title(const struct adm_cmd *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->name, c->sub ? " " : "",
	         c->sub ? c->sub : "");
}

static void print_option(FILE *out, enum adm_opt o)
{
	char lhs[64];
	const struct adm_opt_def *d = &adm_opts[o];
	snprintf(lhs, sizeof(lhs), "--%s%s%s", d->name, d->metavar ? " " : "",
	         d->metavar ? d->metavar : "");
	fprintf(out, "  %-30s %s\n", lhs, d->help);
}

static void print_global_options(FILE *out)
{
	fprintf(out, "\noptions for every command:\n");
	for (int o = 0; o < ADM_OPT__MAX; o++)
		if (ADM_O(o) & ADM_O_GLOBAL)
			print_option(out, (enum adm_opt)o);
}

/* The command list, all of it or (group non-NULL) one group's. */
static void usage_list(FILE *out, const char *group)
{
	fprintf(out, "usage: latchkey [--db PATH | --config FILE] [--json] "
	        "%s%sCOMMAND "
	        "[ARGS]\n\n", group ? group : "", group ? " " : "");
	if (group == NULL)
		fprintf(out, "Administers a Latchkey database: OAuth clients, "
		             "users and their consents, issued tokens and "
		             "signing keys; purges, backs up and copies the "
		             "database."
		             "\n\n");
	fprintf(out, "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct adm_cmd *c = &commands[i];
		char lhs[96], t[48];
		if (group != NULL && strcmp(c->name, group) != 0)
			continue;
		title(c, t, sizeof(t));
		snprintf(lhs, sizeof(lhs), "%s %s", t, c->synopsis);
		fprintf(out, "  %-34s %s\n", lhs, c->summary);
	}
	print_global_options(out);
	fprintf(out, "\nRun 'latchkey COMMAND --help' for a command's "
	        "options.\n");
}

static void usage_command(FILE *out, const struct adm_cmd *c)
{
	char t[48];
	title(c, t, sizeof(t));
	fprintf(out, "usage: latchkey %s%s%s [options]\n\n", t,
	        *c->synopsis ? " " : "", c->synopsis);
	fprintf(out, "%c%s.\n", toupper((unsigned char)c->summary[0]),
	        c->summary + 1);
	if (c->detail != NULL)
		fprintf(out, "\n%s\n", c->detail);
	if (c->opts != 0) {
		fprintf(out, "\noptions:\n");
		for (int o = 0; o < ADM_OPT__MAX; o++)
			if (ADM_O(o) & c->opts)
				print_option(out, (enum adm_opt)o);
	}
	print_global_options(out);
}

/* Reports a usage error and where to read about the right usage. */
static int usage_fail(const char *help_for, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_fail(const char *help_for, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	adm_err("%s", msg);
	fprintf(stderr, "Try 'latchkey %s%s--help'.\n",
	        help_for ? help_for : "", help_for ? " " : "");
	return ADM_EXIT_USAGE;
}

/* ---- bash completion ---------------------------------------------------- */

/* The options one command takes, the global ones included, as words. */
static void completion_opts(FILE *out, uint64_t mask)
{
	const char *sep = "";
	for (int o = 0; o < ADM_OPT__MAX; o++)
		if (ADM_O(o) & (mask | ADM_O_GLOBAL)) {
			fprintf(out, "%s--%s", sep, adm_opts[o].name);
			sep = " ";
		}
}

/* A bash function from the tables: the command words, then each
 * command's options; an option that takes a value completes file names
 * after it (--db, --config, --from, --to, FILE) or nothing. */
static int cmd_completion(struct adm_ctx *ctx)
{
	if (strcmp(ctx->argv[0], "bash") != 0)
		return adm_fail(ADM_EXIT_USAGE, "completion: only 'bash' is "
		                "known, not '%s'", ctx->argv[0]);
	printf("# bash completion for latchkey, printed by `latchkey "
	       "completion bash`\n# from its command table (admin-cli/main.c)."
	       "\n_latchkey()\n{\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]}\n"
	       "\tlocal prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	       "\tlocal i w w1= w2= skip=\n"
	       "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	       "\t\tw=${COMP_WORDS[i]}\n"
	       "\t\tif [[ -n $skip ]]; then skip=; continue; fi\n"
	       "\t\tcase $w in\n"
	       "\t\t--*=*) ;;\n\t\t");
	const char *sep = "";
	for (int o = 0; o < ADM_OPT__MAX; o++)
		if (adm_opts[o].flags & ADM_OPT_ARG) {
			printf("%s--%s", sep, adm_opts[o].name);
			sep = "|";
		}
	printf(") skip=1 ;;\n"
	       "\t\t-*) ;;\n"
	       "\t\t*) if [[ -z $w1 ]]; then w1=$w; elif [[ -z $w2 ]]; then "
	       "w2=$w; fi ;;\n"
	       "\t\tesac\n\tdone\n"
	       "\tcase $prev in\n"
	       "\t--db|--config|--from|--to) COMPREPLY=($(compgen -f -- "
	       "\"$cur\")); return ;;\n\t");
	sep = "";
	for (int o = 0; o < ADM_OPT__MAX; o++)
		if ((adm_opts[o].flags & ADM_OPT_ARG) && o != OPT_DB &&
		    o != OPT_CONFIG && o != OPT_FROM && o != OPT_TO) {
			printf("%s--%s", sep, adm_opts[o].name);
			sep = "|";
		}
	printf(") return ;;\n\tesac\n\tlocal words opts\n\tcase $w1 in\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct adm_cmd *c = &commands[i];
		if (i > 0 && strcmp(commands[i - 1].name, c->name) == 0)
			continue; /* a group's first row prints all of it */
		printf("\t%s)\n", c->name);
		if (c->sub == NULL) {
			printf("\t\topts='");
			completion_opts(stdout, c->opts);
			printf("'\n");
			/* Its argument: literal words ("bash"), or a file. */
			if (c->max_args > 0 && islower((unsigned char)c->synopsis[0]))
				printf("\t\twords='%s'\n", c->synopsis);
			else if (c->max_args > 0)
				printf("\t\t[[ $cur != -* ]] && COMPREPLY=($(compgen -f -- "
				       "\"$cur\"))\n");
			printf("\t\t;;\n");
			continue;
		}
		printf("\t\topts='");
		completion_opts(stdout, 0);
		printf("'\n\t\twords='");
		for (size_t j = i; j < NCOMMANDS &&
		                   strcmp(commands[j].name, c->name) == 0; j++)
			printf("%s%s", j > i ? " " : "", commands[j].sub);
		printf("'\n\t\tcase $w2 in\n");
		for (size_t j = i; j < NCOMMANDS &&
		                   strcmp(commands[j].name, c->name) == 0; j++) {
			printf("\t\t%s) words=; opts='", commands[j].sub);
			completion_opts(stdout, commands[j].opts);
			printf("' ;;\n");
		}
		printf("\t\tesac\n\t\t;;\n");
	}
	printf("\t*)\n\t\twords='");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (i == 0 || strcmp(commands[i - 1].name, commands[i].name) != 0)
			printf("%s%s", i > 0 ? " " : "", commands[i].name);
	printf("'\n\t\topts='");
	completion_opts(stdout, 0);
	printf("'\n\t\t;;\n\tesac\n"
	       "\tif [[ $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	       "\telif [[ -n $words ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	       "\tfi\n}\ncomplete -F _latchkey latchkey\n");
	return ADM_EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct adm_cmd *find(const char *name, const char *sub)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct adm_cmd *c = &commands[i];
		if (strcmp(c->name, name) == 0 &&
		    (c->sub == NULL ||
		     (sub != NULL && strcmp(c->sub, sub) == 0)))
			return c;
	}
	return NULL;
}

static bool is_group(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].sub != NULL &&
		    strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

/* The name of user uid, for a message. */
static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
}

/* SQLite makes the -wal and -shm files beside a database as whoever
 * opens it: when that is not the file's owner (root, for the service's
 * latchkey user), the service may no longer open its own database. A
 * database not made yet would itself be the caller's: the likely slip
 * is a first `sudo latchkey ... migrate` before the service ever ran,
 * leaving a root-owned file in the service's directory, so then the
 * directory's owner is the one to be. The command still runs; one line
 * says so. */
static void warn_other_owner(const char *path)
{
	struct stat st;
	char owner[64];
	if (stat(path, &st) == 0) {
		if (st.st_uid == geteuid())
			return;
		user_name(st.st_uid, owner, sizeof(owner));
		adm_err("warning: database '%s' belongs to %s, not to the user "
		        "running this; files SQLite creates beside it (-wal, "
		        "-shm) may lock its owner out: run as %s (runuser -u %s "
		        "-- latchkey ...)", path, owner, owner, owner);
		return;
	}
	if (errno != ENOENT)
		return; /* opening it will say what is wrong */
	/* A sticky directory (/tmp) is shared: there every file belongs to
	 * whoever made it, and the directory's owner is nobody to be. */
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	if (stat(dir, &st) == 0 && st.st_uid != geteuid() &&
	    !(st.st_mode & S_ISVTX)) {
		user_name(st.st_uid, owner, sizeof(owner));
		adm_err("warning: database '%s' does not exist yet and its "
		        "directory belongs to %s, not to the user running this; "
		        "the files this creates there may lock %s out: run as %s "
		        "(runuser -u %s -- latchkey ...)", path, owner, owner,
		        owner, owner);
	}
	free(copy);
}

/* The part of run() for commands that work on one database: find it (the
 * same way latchkeyd does, with cfg), check it, open it, run c. */
static int run_on_db(const struct adm_cmd *c, struct adm_ctx *ctx,
                     const struct lk_config *cfg)
{
	const char *path = adm_db_path(ctx->args, cfg);
	bool pg = store_target_is_pg(path);
	if (!pg && (c->flags & CMD_EXISTING_DB) && access(path, F_OK) != 0)
		return adm_fail(ADM_EXIT_RUNTIME, "database '%s': %s", path,
		                strerror(errno));

	/* latchkeyd refuses such a file; the CLI still works on it (to fix
	 * what it can) but says so, rather than be the silent one. */
	char msg[1024];
	if (!pg && file_private_check(path, "database", "it holds the signing "
	                              "keys, and latchkeyd refuses to start on "
	                              "it", msg, sizeof(msg)) != 0)
		adm_err("warning: %s", msg);
	if (!pg)
		warn_other_owner(path);

	ctx->db = path;
	ctx->cfg = cfg;
	int rc = adm_store_open(path, cfg, !(c->flags & CMD_NO_MIGRATE),
	                        &ctx->store);
	if (rc != ADM_EXIT_OK)
		return rc;
	rc = c->fn(ctx);
	store_close(ctx->store);
	return rc;
}

/* Checks what every command needs checked, then runs it. */
static int run(const struct adm_cmd *c, const struct adm_args *a)
{
	char t[48];
	size_t words = c->sub ? 2 : 1;
	size_t nargs = a->npos - words;

	title(c, t, sizeof(t));
	if (adm_has(a, OPT_HELP)) {
		usage_command(stdout, c);
		return ADM_EXIT_OK;
	}
	for (int o = 0; o < ADM_OPT__MAX; o++)
		if (adm_has(a, (enum adm_opt)o) &&
		    !(ADM_O(o) & (c->opts | ADM_O_GLOBAL)))
			return usage_fail(t,
			                  "option --%s does not apply to '%s'",
			                  adm_opts[o].name, t);
	if (nargs < c->min_args)
		return usage_fail(t, "'%s' needs %s", t, c->synopsis);
	if (nargs > c->max_args)
		return usage_fail(t, "unexpected argument '%s' for '%s'",
		                  a->pos[words + c->max_args], t);

	struct adm_ctx ctx = {
		.args = a,
		.argv = a->pos + words,
		.argc = nargs,
		.json = adm_has(a, OPT_JSON),
	};
	if (c->flags & (CMD_OWN_STORES | CMD_NO_STORE)) {
		if (adm_has(a, OPT_DB) || adm_has(a, OPT_CONFIG))
			return usage_fail(t, "'%s' takes no --db or --config: %s",
			                  t, (c->flags & CMD_NO_STORE)
			                         ? "it opens no database"
			                         : "its options name the databases");
		return c->fn(&ctx);
	}

	struct lk_config cfg;
	int rc = adm_config_load(a, &cfg);
	if (rc == ADM_EXIT_OK)
		rc = run_on_db(c, &ctx, &cfg);
	config_free(&cfg);
	return rc;
}

static int dispatch(const struct adm_args *a)
{
	if (adm_has(a, OPT_VERSION)) {
		struct version_libs v = {0};
		version_add(&v, "jansson", JANSSON_VERSION, jansson_version_str());
		store_libs(&v);
		version_core_libs(&v);
		version_print(stdout, "latchkey", &v);
		return ADM_EXIT_OK;
	}
	if (a->npos == 0) {
		if (adm_has(a, OPT_HELP)) {
			usage_list(stdout, NULL);
			return ADM_EXIT_OK;
		}
		usage_list(stderr, NULL);
		return ADM_EXIT_USAGE;
	}
	const char *name = a->pos[0];
	const char *sub = a->npos > 1 ? a->pos[1] : NULL;
	const struct adm_cmd *c = find(name, sub);
	if (c != NULL)
		return run(c, a);
	if (!is_group(name))
		return usage_fail(NULL, "unknown command '%s'", name);
	if (sub == NULL && adm_has(a, OPT_HELP)) {
		usage_list(stdout, name);
		return ADM_EXIT_OK;
	}
	if (sub == NULL)
		return usage_fail(name, "'%s' needs a command", name);
	return usage_fail(name, "unknown command '%s %s'", name, sub);
}

int main(int argc, char **argv)
{
	struct adm_args a;
	char err[256];
	int rc;

	if (adm_args_parse(argc, argv, &a, err, sizeof(err)) != 0)
		rc = usage_fail(NULL, "%s", err);
	else
		rc = dispatch(&a);
	adm_args_free(&a);
	/* Output that never reached its destination is a failure, not a
	 * silently missing secret. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		adm_err("cannot write the output");
		if (rc == ADM_EXIT_OK)
			rc = ADM_EXIT_RUNTIME;
	}
	return rc;
}

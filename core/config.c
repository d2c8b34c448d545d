/*
 * config.c: the settings table and its three sources (see config.h).
 * Owns parsing and validation of every setting's value; what a setting
 * means is up to the module that reads struct lk_config.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "netaddr.h"
#include "origin.h"
#include "strutil.h"
#include "validate.h"

enum stype { S_STR, S_INT, S_BOOL };

struct setting {
	const char *name;
	enum stype type;
	size_t off;
	const char *def;
	long min, max;                /* S_INT bounds */
	const char *const *choices;   /* S_STR: NULL-terminated, or NULL */
	const char *help;
};

static const char *const algs[] = {"ES256", "RS256", NULL};
static const char *const formats[] = {"text", "json", NULL};
static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const policies[] = {"nothing", "revoke", "hook", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const durabilities[] = {"normal", "full", NULL};
static const char *const forwarded_headers[] = {"x-forwarded-for",
                                                "forwarded", NULL};

#define OFF(f) offsetof(struct lk_config, f)
static const struct setting settings[] = {
	{"config", S_STR, OFF(config), "", 0, 0, NULL,
	 "INI file with settings (keys as below; flags and variables win)"},
	{"listen", S_STR, OFF(listen), "127.0.0.1:8080", 0, 0, NULL,
	 "address to serve on, HOST:PORT; port 0 picks a free port"},
	{"issuer", S_STR, OFF(issuer), "", 0, 0, NULL,
	 "issuer URL (iss claim, metadata); default http://HOST:PORT"},
	{"db", S_STR, OFF(db), "./latchkey.db", 0, 0, NULL,
	 "SQLite database file (created 0600 if missing), or a PostgreSQL "
	 "URI: postgresql://USER@HOST/DBNAME (a password in it is never "
	 "shown)"},
	{"durability", S_STR, OFF(durability), "normal", 0, 0, durabilities,
	 "normal: commits survive a crash of latchkeyd; full: also a power "
	 "cut (an fsync per commit); SQLite only"},
	{"auto_migrate", S_BOOL, OFF(auto_migrate), "true", 0, 1, NULL,
	 "apply pending database migrations at start (logged); false: "
	 "refuse to start on an older schema, leaving it to latchkey "
	 "migrate"},
	{"db_pool_size", S_INT, OFF(db_pool_size), "8", 1, 64, NULL,
	 "PostgreSQL: connections per process at most"},
	{"db_connect_timeout", S_INT, OFF(db_connect_timeout), "5", 1, 3600,
	 NULL, "PostgreSQL: seconds to wait for a connection (to the server, "
	 "or a free one of the pool)"},
	{"db_startup_timeout", S_INT, OFF(db_startup_timeout), "60", 0, 86400,
	 NULL, "PostgreSQL: seconds latchkeyd waits at start for a database "
	 "that cannot be reached yet, retrying; 0: fail at once"},
	{"db_statement_timeout", S_INT, OFF(db_statement_timeout), "10", 0,
	 86400, NULL, "PostgreSQL: seconds one statement may run before the "
	 "server cancels it; 0: no limit"},
	{"purge_interval", S_INT, OFF(purge_interval), "3600", 0, 31536000,
	 NULL, "seconds between purges of expired records; 0: off"},
	{"audit_retention", S_INT, OFF(audit_retention), "31536000", 0,
	 3153600000, NULL, "seconds the purge keeps audit events (365 days); "
	 "0: keep them forever"},
	{"access_token_ttl", S_INT, OFF(access_token_ttl), "3600", 1, 31536000,
	 NULL, "default access token lifetime in seconds"},
	{"refresh_token_ttl", S_INT, OFF(refresh_token_ttl), "1209600", 1,
	 31536000, NULL, "default refresh token lifetime in seconds"},
	{"issue_refresh_token", S_BOOL, OFF(issue_refresh_token), "true", 0, 1,
	 NULL, "issue refresh tokens with user grants (per-client override)"},
	{"rotate_refresh_tokens", S_BOOL, OFF(rotate_refresh_tokens), "true", 0,
	 1, NULL, "every refresh returns a new refresh token and retires the "
	 "old"},
	{"on_refresh", S_STR, OFF(on_refresh), "nothing", 0, 0, policies,
	 "what a refresh does to the access token issued with the presented "
	 "refresh token (per-client override)"},
	{"on_refresh_hook", S_STR, OFF(on_refresh_hook), "", 0, 0, NULL,
	 "absolute path of the program on_refresh=hook runs (no shell)"},
	{"on_refresh_hook_timeout_ms", S_INT, OFF(on_refresh_hook_timeout_ms),
	 "5000", 1, 600000, NULL,
	 "milliseconds a hook may run before it is killed and the refresh "
	 "denied"},
	{"on_refresh_hook_max_concurrent", S_INT,
	 OFF(on_refresh_hook_max_concurrent), "16", 1, 1024, NULL,
	 "hooks running at once; a refresh past this gets 503"},
	{"require_pkce", S_BOOL, OFF(require_pkce), "false", 0, 1, NULL,
	 "every client must use PKCE at /authorize (public clients always "
	 "must)"},
	{"pkce_allow_plain", S_BOOL, OFF(pkce_allow_plain), "false", 0, 1, NULL,
	 "accept code_challenge_method=plain besides S256"},
	{"authorization_code_ttl", S_INT, OFF(authorization_code_ttl), "60", 1,
	 600, NULL, "authorization code lifetime in seconds"},
	{"session_ttl", S_INT, OFF(session_ttl), "28800", 60, 31536000, NULL,
	 "seconds a login at /authorize is remembered by its cookie"},
	{"device_code_ttl", S_INT, OFF(device_code_ttl), "600", 10, 86400,
	 NULL, "seconds a device code and its user code live (RFC 8628 "
	 "expires_in)"},
	{"device_poll_interval", S_INT, OFF(device_poll_interval), "5", 1, 60,
	 NULL, "seconds a device waits between polls (RFC 8628 interval); a "
	 "poll sooner gets slow_down and adds 5 s for that device code"},
	{"auto_approve_as", S_STR, OFF(auto_approve_as), "", 0, 0, NULL,
	 "TESTS ONLY: /authorize approves every request as this user, with "
	 "no login or consent page (per-client override)"},
	{"signing_alg", S_STR, OFF(signing_alg), "ES256", 0, 0, algs,
	 "which current key signs access tokens (both exist; ID tokens go by client)"},
	{"jwks_max_age", S_INT, OFF(jwks_max_age), "60", 0, 86400, NULL,
	 "seconds verifiers may cache /jwks.json (its Cache-Control "
	 "max-age); a staged rotation waits longer than this"},
	{"key_rotation_interval", S_INT, OFF(key_rotation_interval), "0", 0,
	 31536000, NULL, "seconds between automatic staged rotations of the "
	 "signing keys (publish a next key, wait, promote); 0: off"},
	{"id_token_ttl", S_INT, OFF(id_token_ttl), "3600", 60, 86400, NULL,
	 "OpenID Connect ID token lifetime in seconds"},
	{"cors_allowed_origins", S_STR, OFF(cors_allowed_origins), "", 0, 0,
	 NULL, "origins (scheme://host[:port], separated by spaces or commas) "
	 "browser applications may call discovery, JWKS, token, userinfo and "
	 "revocation from; empty: none"},
	{"audience", S_STR, OFF(audience), "", 0, 0, NULL,
	 "aud of access tokens of clients without audiences of their own; "
	 "empty: the issuer"},
	{"introspection_requires_flag", S_BOOL,
	 OFF(introspection_requires_flag), "false", 0, 1, NULL,
	 "only clients with the introspect flag may call /introspect "
	 "(recommended in production)"},
	{"max_body_size", S_INT, OFF(max_body_size), "16384", 256, 16777216,
	 NULL, "largest request body in bytes; larger gets 413"},
	{"max_header_size", S_INT, OFF(max_header_size), "16384", 2048,
	 1048576, NULL,
	 "bytes for a request's line and headers (more gets 431)"},
	{"max_params", S_INT, OFF(max_params), "32", 4, 1000, NULL,
	 "form or query parameters in one request (more gets invalid_request)"},
	{"max_param_length", S_INT, OFF(max_param_length), "4096", 64,
	 16777216, NULL,
	 "bytes in one decoded parameter value (more gets invalid_request)"},
	{"max_connections", S_INT, OFF(max_connections), "1024", 1, 1000000,
	 NULL, "open connections in all (more wait until one closes)"},
	{"max_connections_per_address", S_INT,
	 OFF(max_connections_per_address), "128", 1, 1000000, NULL,
	 "open connections from one client address"},
	{"trusted_proxies", S_STR, OFF(trusted_proxies), "", 0, 0, NULL,
	 "addresses or CIDR blocks of reverse proxies whose forwarded_header "
	 "names the client (comma-separated); empty: none"},
	{"forwarded_header", S_STR, OFF(forwarded_header), "x-forwarded-for", 0,
	 0, forwarded_headers,
	 "the header trusted proxies name the client in"},
	{"idle_timeout", S_INT, OFF(idle_timeout), "30", 1, 3600, NULL,
	 "seconds a connection may stay silent before it is closed"},
	{"tls_cert", S_STR, OFF(tls_cert), "", 0, 0, NULL,
	 "PEM certificate chain: serve HTTPS (with tls_key)"},
	{"tls_key", S_STR, OFF(tls_key), "", 0, 0, NULL,
	 "PEM private key of tls_cert; must not be readable by other users "
	 "(e.g. root:latchkey 0640)"},
	{"tls_min_version", S_STR, OFF(tls_min_version), "1.2", 0, 0,
	 tls_versions, "oldest TLS version served (1.2 or 1.3; 1.0 and 1.1 "
	 "are never served, RFC 8996)"},
	{"tls_client_certs", S_BOOL, OFF(tls_client_certs), "false", 0, 1, NULL,
	 "ask HTTPS clients for any certificate (never required, naming no "
	 "CA), for clients of self_signed_tls_client_auth (RFC 8705); needs "
	 "tls_cert"},
	{"tls_client_ca", S_STR, OFF(tls_client_ca), "", 0, 0, NULL,
	 "PEM CA certificates that sign the certificates of tls_client_auth "
	 "clients (RFC 8705); HTTPS clients are asked for a certificate "
	 "(never required); empty: none"},
	{"tls_ciphers", S_STR, OFF(tls_ciphers), "NORMAL", 0, 0, NULL,
	 "GnuTLS priority string for the ciphers, key exchanges and "
	 "signatures served; tls_min_version still sets the versions"},
	{"admin_listen", S_STR, OFF(admin_listen), "", 0, 0, NULL,
	 "address of the admin HTTP API, HOST:PORT (never listen's); empty: "
	 "off (docs/admin-api.md)"},
	{"admin_tls_cert", S_STR, OFF(admin_tls_cert), "", 0, 0, NULL,
	 "PEM certificate chain: serve the admin API over HTTPS (with "
	 "admin_tls_key)"},
	{"admin_tls_key", S_STR, OFF(admin_tls_key), "", 0, 0, NULL,
	 "PEM private key of admin_tls_cert; as tls_key, not readable by "
	 "other users"},
	{"admin_tls_client_ca", S_STR, OFF(admin_tls_client_ca), "", 0, 0, NULL,
	 "PEM CA certificates: the admin API also requires a client "
	 "certificate they signed (needs admin_tls_cert); empty: none"},
	{"threads", S_INT, OFF(threads), "4", 1, 256, NULL,
	 "HTTP worker threads"},
	{"login_max_failures", S_INT, OFF(login_max_failures), "5", 1, 1000,
	 NULL, "failed password logins per username per window before refusal"},
	{"login_max_failures_per_address", S_INT,
	 OFF(login_max_failures_per_address), "20", 1, 100000, NULL,
	 "failed password logins per client address per window"},
	{"login_failure_window", S_INT, OFF(login_failure_window), "300", 1,
	 86400, NULL, "seconds a failed-login count lasts"},
	{"client_auth_max_failures", S_INT, OFF(client_auth_max_failures), "20",
	 2, 100000, NULL, "failed client authentications per client id per "
	 "window before refusal (past half, one check per second)"},
	{"client_auth_max_failures_per_address", S_INT,
	 OFF(client_auth_max_failures_per_address), "100", 2, 1000000, NULL,
	 "failed client authentications per client address per window"},
	{"client_auth_failure_window", S_INT, OFF(client_auth_failure_window),
	 "300", 1, 86400, NULL,
	 "seconds a failed client authentication count lasts"},
	{"jwks_uri_allow_private", S_BOOL, OFF(jwks_uri_allow_private), "false",
	 0, 1, NULL, "let clients' jwks_uri name loopback, link-local and "
	 "private addresses (tests, closed networks)"},
	{"jwks_uri_timeout", S_INT, OFF(jwks_uri_timeout), "5", 1, 60, NULL,
	 "seconds a fetch of a client's jwks_uri may take"},
	{"jwks_uri_max_bytes", S_INT, OFF(jwks_uri_max_bytes), "65536", 1024,
	 65536, NULL, "largest JWKS document fetched from a jwks_uri"},
	{"jwks_uri_cache_ttl", S_INT, OFF(jwks_uri_cache_ttl), "300", 0, 86400,
	 NULL, "seconds a fetched JWKS is used before it is fetched again"},
	{"dpop_nonce", S_BOOL, OFF(dpop_nonce), "false", 0, 1, NULL,
	 "DPoP proofs must carry a nonce the server gave (DPoP-Nonce)"},
	{"ephemeral", S_BOOL, OFF(ephemeral), "false", 0, 1, NULL,
	 "serve from a private temporary database, removed at exit (db is "
	 "ignored)"},
	{"fixtures", S_STR, OFF(fixtures), "", 0, 0, NULL,
	 "JSON file of clients and users applied at start (and at "
	 "/_control/reset)"},
	{"ready_file", S_STR, OFF(ready_file), "", 0, 0, NULL,
	 "also write the ready line to this file"},
	{"test_double", S_BOOL, OFF(test_double), "false", 0, 1, NULL,
	 "TESTS ONLY: serve the /_control/ endpoints (clock, faults, reset, "
	 "tokens) to loopback clients"},
	{"issuer_path", S_STR, OFF(issuer_path), "", 0, 0, NULL,
	 "serve every endpoint under this path, and add it to the issuer "
	 "(a Keycloak-shaped issuer on any port)"},
	{"exit_on_stdin_close", S_BOOL, OFF(exit_on_stdin_close), "false", 0, 1,
	 NULL, "stop when standard input reaches end of file (a test "
	 "runner's pipe)"},
	{"exit_with_parent", S_BOOL, OFF(exit_with_parent), "false", 0, 1, NULL,
	 "stop when the process that started latchkeyd has gone"},
	{"token_path", S_STR, OFF(token_path), "/token", 0, 0, NULL,
	 "path of the token endpoint"},
	{"authorize_path", S_STR, OFF(authorize_path), "/authorize", 0, 0, NULL,
	 "path of the authorization endpoint"},
	{"revoke_path", S_STR, OFF(revoke_path), "/revoke", 0, 0, NULL,
	 "path of the revocation endpoint"},
	{"introspect_path", S_STR, OFF(introspect_path), "/introspect", 0, 0,
	 NULL, "path of the introspection endpoint"},
	{"jwks_path", S_STR, OFF(jwks_path), "/jwks.json", 0, 0, NULL,
	 "path of the JWKS document"},
	{"metadata_path", S_STR, OFF(metadata_path),
	 "/.well-known/oauth-authorization-server", 0, 0, NULL,
	 "path of the RFC 8414 metadata document"},
	{"openid_configuration_path", S_STR, OFF(openid_configuration_path),
	 "", 0, 0, NULL, "path of the OpenID Connect discovery document; "
	 "empty: the issuer's path plus /.well-known/openid-configuration"},
	{"userinfo_path", S_STR, OFF(userinfo_path), "/userinfo", 0, 0, NULL,
	 "path of the OpenID Connect userinfo endpoint"},
	{"end_session_path", S_STR, OFF(end_session_path), "/logout", 0, 0,
	 NULL, "path of the OpenID Connect logout endpoint (RP-Initiated "
	 "Logout)"},
	{"device_authorization_path", S_STR, OFF(device_authorization_path),
	 "/device_authorization", 0, 0, NULL,
	 "path of the RFC 8628 device authorization endpoint"},
	{"device_path", S_STR, OFF(device_path), "/device", 0, 0, NULL,
	 "path of the page where a person enters a device's user code "
	 "(RFC 8628 verification_uri)"},
	{"resource_path", S_STR, OFF(resource_path), "/resource", 0, 0, NULL,
	 "path of the Bearer-protected resource that answers with a token's "
	 "claims; its RFC 9728 metadata is at "
	 "/.well-known/oauth-protected-resource, the issuer's path, then this"},
	{"metrics_path", S_STR, OFF(metrics_path), "/metrics", 0, 0, NULL,
	 "path of the Prometheus metrics (counts only: no tokens, secrets or "
	 "client names)"},
	{"log_format", S_STR, OFF(log_format), "text", 0, 0, formats,
	 "log line format"},
	{"log_level", S_STR, OFF(log_level), "info", 0, 0, levels,
	 "lowest level logged"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **str_slot(struct lk_config *c, const struct setting *s)
{
	return (char **)((char *)c + s->off);
}

static long *int_slot(struct lk_config *c, const struct setting *s)
{
	return (long *)((char *)c + s->off);
}

static const struct setting *find_setting(const char *name, size_t len)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strlen(settings[i].name) == len &&
		    strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

/* Flag spelling of a setting name: dashes for underscores. */
static void flag_name(const struct setting *s, char *buf, size_t len)
{
	snprintf(buf, len, "--%s", s->name);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
}

static void env_name(const struct setting *s, char *buf, size_t len)
{
	snprintf(buf, len, "LATCHKEY_%s", s->name);
	for (char *p = buf; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

/* Sets one value; where says which source it came from, for the message. */
static int set_value(struct lk_config *c, const struct setting *s,
                     const char *v, const char *where, char *err, size_t errlen)
{
	if (s->type == S_BOOL) {
		static const char *const yes[] = {"true", "1", "yes", "on", NULL};
		static const char *const no[] = {"false", "0", "no", "off", NULL};
		for (int i = 0; yes[i]; i++) {
			if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
				*int_slot(c, s) = strcasecmp(v, yes[i]) == 0;
				return 0;
			}
		}
		snprintf(err, errlen, "setting '%s' (from %s): '%.64s' is not "
		         "true or false", s->name, where, v);
		return -1;
	}
	if (s->type == S_INT) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || n < s->min ||
		    n > s->max) {
			snprintf(err, errlen,
			         "setting '%s' (from %s): '%.64s' is not a whole number "
			         "from %ld to %ld", s->name, where, v, s->min, s->max);
			return -1;
		}
		*int_slot(c, s) = n;
		return 0;
	}
	if (s->choices != NULL) {
		bool ok = false;
		for (const char *const *ch = s->choices; *ch; ch++)
			ok = ok || strcmp(*ch, v) == 0;
		if (!ok) {
			char list[128] = "";
			for (const char *const *ch = s->choices; *ch; ch++) {
				strncat(list, *ch, sizeof(list) - strlen(list) - 3);
				if (ch[1])
					strcat(list, ", ");
			}
			snprintf(err, errlen,
			         "setting '%s' (from %s): '%.64s' is not one of: %s",
			         s->name, where, v, list);
			return -1;
		}
	}
	char **slot = str_slot(c, s);
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

struct ini_ctx {
	struct lk_config *cfg;
	const char *path;
	char *err;
	size_t errlen;
	bool failed;
};

static int on_ini_line(void *user, const char *section, const char *name,
                       const char *value)
{
	struct ini_ctx *ctx = user;
	char where[300];

	if (ctx->failed)
		return 0;
	snprintf(where, sizeof(where), "%.256s", ctx->path);
	if (section[0] != '\0' && strcmp(section, "latchkeyd") != 0) {
		snprintf(ctx->err, ctx->errlen,
		         "%s: unknown section [%.64s]; use keys at the top or in "
		         "[latchkeyd]", where, section);
		ctx->failed = true;
		return 0;
	}
	const struct setting *s = find_setting(name, strlen(name));
	if (s == NULL || strcmp(s->name, "config") == 0) {
		snprintf(ctx->err, ctx->errlen, "%s: unknown setting '%.64s'",
		         where, name);
		ctx->failed = true;
		return 0;
	}
	if (set_value(ctx->cfg, s, value, where, ctx->err, ctx->errlen) != 0) {
		ctx->failed = true;
		return 0;
	}
	return 1;
}

int config_parse_hostport(const char *s, char **host, int *port)
{
	const char *colon;
	const char *h = s;
	size_t hlen;

	*host = NULL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL)
			return -1; /* bare IPv6 needs brackets */
	}
	if (hlen == 0 || hlen > 253)
		return -1;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
		return -1;
	*host = strndup(h, hlen);
	if (*host == NULL)
		return -1;
	*port = (int)p;
	return 0;
}

static int check_issuer(const char *iss, char *err, size_t errlen)
{
	/* RFC 8414 section 2: https URL with no query or fragment; plain http
	 * is allowed too, for loopback and test doubles. */
	if (iss[0] == '\0')
		return 0;
	if ((strncmp(iss, "https://", 8) != 0 && strncmp(iss, "http://", 7) != 0) ||
	    strpbrk(iss, "?# \t\r\n") != NULL || iss[strlen(iss) - 1] == '/') {
		snprintf(err, errlen,
		         "setting 'issuer': '%.128s' must be an http(s) URL with no "
		         "query, fragment or trailing slash", iss);
		return -1;
	}
	return 0;
}

/* libinih reads at most INI_MAX_LINE-1 bytes per line and parses the rest
 * as a new line, so a long value would be cut silently. Refuse instead. */
static int check_line_lengths(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0; /* ini_parse reports the open error */
	int line = 1, len = 0, ch, rc = 0;
	while ((ch = fgetc(f)) != EOF) {
		if (ch == '\n') {
			line++;
			len = 0;
		} else if (++len >= INI_MAX_LINE) {
			snprintf(err, errlen, "setting 'config': %.200s: line %d is "
			         "longer than %d characters", path, line,
			         INI_MAX_LINE - 1);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void usage_line(FILE *out, const struct setting *s)
{
	char flag[64], env[64];
	flag_name(s, flag, sizeof(flag));
	env_name(s, env, sizeof(env));
	fprintf(out, "  %-22s %s\n", flag, s->help);
	fprintf(out, "  %-22s env %s, default '%s'", "", env, s->def);
	if (s->choices) {
		fputs(", one of", out);
		for (const char *const *c = s->choices; *c; c++)
			fprintf(out, " %s", *c);
	}
	fputc('\n', out);
}

void config_usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s [--setting VALUE]...\n\n"
	             "Serves OAuth 2.0 tokens. Every setting may also come from "
	             "its LATCHKEY_* variable or the --config file.\n\n", prog);
	for (size_t i = 0; i < NSETTINGS; i++)
		usage_line(out, &settings[i]);
	fputs("  --help                 this text\n"
	      "  --version              print the version\n", out);
}

/* Pass 1 over argv finds --config, --help, --version without judging the
 * rest, so the file can be read before flags override it. */
static const char *argv_config(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

static bool bool_word(const char *v)
{
	static const char *const words[] = {"true", "false", "1", "0", "yes",
	                                    "no", "on", "off"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(v, words[i]) == 0)
			return true;
	return false;
}

static int apply_argv(struct lk_config *c, int argc, char **argv, char *err,
                      size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%.64s' (see --help)", a);
			return -1;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		char key[64];
		if (len >= sizeof(key)) {
			snprintf(err, errlen, "unknown flag '%.64s' (see --help)", a);
			return -1;
		}
		for (size_t k = 0; k < len; k++)
			key[k] = name[k] == '-' ? '_' : name[k];
		key[len] = '\0';
		const struct setting *s = find_setting(key, len);
		/* Only dashes are accepted on the command line. */
		if (s == NULL || memchr(name, '_', len) != NULL) {
			snprintf(err, errlen, "unknown flag '%.64s' (see --help)", a);
			return -1;
		}
		const char *v = eq ? eq + 1 : NULL;
		/* A boolean flag alone means true (--ephemeral); a boolean word
		 * after it is its value (--ephemeral false). */
		if (v == NULL && s->type == S_BOOL &&
		    (i + 1 >= argc || !bool_word(argv[i + 1])))
			v = "true";
		if (v == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "flag '%.64s' needs a value", a);
				return -1;
			}
			v = argv[++i];
		}
		char where[80];
		flag_name(s, where, sizeof(where));
		if (set_value(c, s, v, where, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Endpoint paths are matched exactly against the request path. */
static int check_paths(const struct lk_config *c, char *err, size_t errlen)
{
	const struct {
		const char *name, *value;
	} paths[] = {
		{"token_path", c->token_path}, {"authorize_path", c->authorize_path},
		{"revoke_path", c->revoke_path},
		{"introspect_path", c->introspect_path},
		{"jwks_path", c->jwks_path}, {"metadata_path", c->metadata_path},
		{"resource_path", c->resource_path},
		{"metrics_path", c->metrics_path},
		{"userinfo_path", c->userinfo_path},
		{"end_session_path", c->end_session_path},
		{"device_authorization_path", c->device_authorization_path},
		{"device_path", c->device_path},
		{"openid_configuration_path", c->openid_configuration_path},
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *p = paths[i].value;
		if (p[0] == '\0' && paths[i].value == c->openid_configuration_path)
			continue; /* empty: derived from the issuer */
		bool ok = p[0] == '/' && strlen(p) <= 512 &&
		          strncmp(p, "/_control/", 10) != 0 &&
		          strcmp(p, "/healthz") != 0;
		for (const char *q = p; ok && *q; q++)
			ok = *q > 0x20 && *q < 0x7f && *q != '?' && *q != '#' &&
			     *q != '%'; /* MHD matches the decoded path */
		if (!ok) {
			snprintf(err, errlen, "setting '%s': '%.200s' is not a path "
			         "(it must start with '/', hold no spaces, '?', '#' "
			         "or '%%', and not be /healthz or under /_control/)",
			         paths[i].name, p);
			return -1;
		}
	}
	return 0;
}

/* A hook is run by path with execve, so it must be an absolute path to an
 * executable file; checked at start rather than at the first refresh. */
static int check_hook(const struct lk_config *c, char *err, size_t errlen)
{
	const char *h = c->on_refresh_hook;
	struct stat st;
	if (h[0] == '\0') {
		if (strcmp(c->on_refresh, "hook") == 0) {
			snprintf(err, errlen, "setting 'on_refresh_hook': "
			         "on_refresh=hook needs the program to run");
			return -1;
		}
		return 0;
	}
	if (h[0] != '/') {
		snprintf(err, errlen, "setting 'on_refresh_hook': '%.200s' is "
		         "not an absolute path", h);
		return -1;
	}
	if (stat(h, &st) != 0 || !S_ISREG(st.st_mode) || access(h, X_OK) != 0) {
		snprintf(err, errlen, "setting 'on_refresh_hook': '%.200s' is "
		         "not an executable file", h);
		return -1;
	}
	return 0;
}

/* A rotation must leave a key current for some time after the next one
 * was published long enough (keys.h, KEY_PUBLISH_LEAD). */
static int check_key_rotation(const struct lk_config *c, char *err,
                              size_t errlen)
{
	long lead = KEY_PUBLISH_LEAD(c->jwks_max_age);
	if (c->key_rotation_interval == 0 ||
	    c->key_rotation_interval > lead)
		return 0;
	snprintf(err, errlen, "setting 'key_rotation_interval': %ld s is too "
	         "short: a next key is published %ld s (jwks_max_age + %d) "
	         "before it signs, so the interval must be longer (0 turns "
	         "rotation off)", c->key_rotation_interval, lead,
	         (int)(lead - c->jwks_max_age));
	return -1;
}

/* HTTPS needs both files. A private key that other users can read is no
 * longer private: refuse it, as ssh refuses such an identity file. */
/* One certificate and key pair (prefix "" or "admin_"): both or
 * neither, readable, the key not by every user. */
static int check_tls_pair(const char *prefix, const char *cert_path,
                          const char *key_path, char *err, size_t errlen)
{
	bool cert = cert_path[0] != '\0', key = key_path[0] != '\0';
	struct stat st;
	if (cert != key) {
		snprintf(err, errlen, "setting '%s%s': HTTPS needs both "
		         "%stls_cert and %stls_key", prefix,
		         cert ? "tls_key" : "tls_cert", prefix, prefix);
		return -1;
	}
	if (!cert)
		return 0;
	if (access(cert_path, R_OK) != 0) {
		snprintf(err, errlen, "setting '%stls_cert': cannot read "
		         "'%.200s': %s", prefix, cert_path, strerror(errno));
		return -1;
	}
	if (stat(key_path, &st) != 0 || access(key_path, R_OK) != 0) {
		snprintf(err, errlen, "setting '%stls_key': cannot read "
		         "'%.200s': %s", prefix, key_path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		/* Not "chmod 600": the packaged layout is root:latchkey
		 * 0640, and 600 there would lock latchkeyd out. */
		snprintf(err, errlen, "setting '%stls_key': '%.200s' is readable "
		         "or writable by every user (mode %04o); run: chmod "
		         "o-rwx '%.200s' (latchkeyd's user or group must still "
		         "read it)", prefix, key_path,
		         (unsigned)(st.st_mode & 07777), key_path);
		return -1;
	}
	return 0;
}

static int check_tls(const struct lk_config *c, char *err, size_t errlen)
{
	if (check_tls_pair("", c->tls_cert, c->tls_key, err, errlen) != 0)
		return -1;
	if ((c->tls_client_certs || c->tls_client_ca[0] != '\0') &&
	    c->tls_cert[0] == '\0') {
		snprintf(err, errlen, "setting '%s': client certificates need "
		         "HTTPS (tls_cert and tls_key)",
		         c->tls_client_ca[0] != '\0' ? "tls_client_ca"
		                                     : "tls_client_certs");
		return -1;
	}
	if (c->tls_client_ca[0] != '\0' && access(c->tls_client_ca, R_OK) != 0) {
		snprintf(err, errlen, "setting 'tls_client_ca': cannot read "
		         "'%.200s': %s", c->tls_client_ca, strerror(errno));
		return -1;
	}
	return 0;
}

/* The admin API listens apart from the public port (issue 17): the same
 * HOST:PORT is refused, as is a port the public listener holds. */
static int check_admin(struct lk_config *c, char *err, size_t errlen)
{
	if (c->admin_listen[0] == '\0') {
		if (c->admin_tls_cert[0] != '\0' ||
		    c->admin_tls_client_ca[0] != '\0') {
			snprintf(err, errlen, "setting '%s': needs admin_listen",
			         c->admin_tls_cert[0] != '\0'
			             ? "admin_tls_cert"
			             : "admin_tls_client_ca");
			return -1;
		}
		return 0;
	}
	if (config_parse_hostport(c->admin_listen, &c->admin_listen_host,
	                          &c->admin_listen_port) != 0) {
		snprintf(err, errlen, "setting 'admin_listen': '%.128s' is not "
		         "HOST:PORT (port 0-65535; IPv6 as [::1]:PORT)",
		         c->admin_listen);
		return -1;
	}
	if (c->admin_listen_port != 0 &&
	    c->admin_listen_port == c->listen_port) {
		snprintf(err, errlen, "setting 'admin_listen': port %d is "
		         "listen's; the admin API never shares the public port",
		         c->admin_listen_port);
		return -1;
	}
	if (check_tls_pair("admin_", c->admin_tls_cert, c->admin_tls_key, err,
	                   errlen) != 0)
		return -1;
	if (c->admin_tls_client_ca[0] != '\0' &&
	    c->admin_tls_cert[0] == '\0') {
		snprintf(err, errlen, "setting 'admin_tls_client_ca': client "
		         "certificates need HTTPS (admin_tls_cert and "
		         "admin_tls_key)");
		return -1;
	}
	if (c->admin_tls_client_ca[0] != '\0' &&
	    access(c->admin_tls_client_ca, R_OK) != 0) {
		snprintf(err, errlen, "setting 'admin_tls_client_ca': cannot read "
		         "'%.200s': %s", c->admin_tls_client_ca, strerror(errno));
		return -1;
	}
	return 0;
}

static int check_trusted_proxies(const struct lk_config *c, char *err,
                                 size_t errlen)
{
	struct netaddr_list *l = NULL;
	char why[200];
	if (netaddr_list_parse(c->trusted_proxies, &l, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "setting 'trusted_proxies': %s", why);
		return -1;
	}
	netaddr_list_free(l);
	return 0;
}

/* Checked at start so that a typo is an error, not an origin that never
 * matches; server/cors.c parses it again for use. */
static int check_cors(const struct lk_config *c, char *err, size_t errlen)
{
	struct origin_list *l = NULL;
	char why[300];
	if (origin_list_parse(c->cors_allowed_origins, &l, why,
	                      sizeof(why)) != 0) {
		snprintf(err, errlen, "setting 'cors_allowed_origins': %s", why);
		return -1;
	}
	origin_list_free(l);
	return 0;
}

/* Applies the INI file at path over what c holds. 0, or -1 with err. */
static int read_ini(struct lk_config *c, const char *path, char *err,
                    size_t errlen)
{
	if (check_line_lengths(path, err, errlen) != 0)
		return -1;
	struct ini_ctx ctx = {c, path, err, errlen, false};
	int rc = ini_parse(path, on_ini_line, &ctx);
	if (ctx.failed)
		return -1;
	if (rc < 0) {
		snprintf(err, errlen, "setting 'config': cannot read '%.200s': %s",
		         path, strerror(errno));
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errlen, "setting 'config': %.200s: syntax error on "
		         "line %d", path, rc);
		return -1;
	}
	return 0;
}

int config_load_file(struct lk_config *c, const char *path, char *err,
                     size_t errlen)
{
	err[0] = '\0';
	config_defaults(c);
	if (read_ini(c, path, err, errlen) != 0)
		return -1;
	free(c->config);
	c->config = xstrdup(path);
	return 0;
}

long config_default_int(const char *name)
{
	const struct setting *s = find_setting(name, strlen(name));
	if (s == NULL || s->type != S_INT)
		abort();
	return strtol(s->def, NULL, 10);
}

void config_defaults(struct lk_config *c)
{
	char err[256];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++)
		if (set_value(c, &settings[i], settings[i].def, "default", err,
		              sizeof(err)) != 0)
			abort(); /* the table contradicts itself */
}

enum config_result config_load(struct lk_config *c, int argc, char **argv,
                               FILE *out, char *err, size_t errlen)
{
	err[0] = '\0';
	config_defaults(c);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(out, argv[0]);
			return CONFIG_EXIT;
		}
		if (strcmp(argv[i], "--version") == 0)
			return CONFIG_VERSION;
	}

	const char *file = argv_config(argc, argv);
	if (file == NULL)
		file = getenv("LATCHKEY_CONFIG");
	if (file != NULL && file[0] != '\0' && read_ini(c, file, err, errlen) != 0)
		return CONFIG_ERR;

	for (size_t i = 0; i < NSETTINGS; i++) {
		char env[64];
		env_name(&settings[i], env, sizeof(env));
		const char *v = getenv(env);
		if (v != NULL && set_value(c, &settings[i], v, env, err, errlen) != 0)
			return CONFIG_ERR;
	}
	if (apply_argv(c, argc, argv, err, errlen) != 0)
		return CONFIG_ERR;

	if (config_parse_hostport(c->listen, &c->listen_host, &c->listen_port) != 0) {
		snprintf(err, errlen, "setting 'listen': '%.128s' is not HOST:PORT "
		         "(port 0-65535; IPv6 as [::1]:PORT)", c->listen);
		return CONFIG_ERR;
	}
	if (c->issuer_path[0] != '\0' && !valid_prefix_path(c->issuer_path)) {
		snprintf(err, errlen, "setting 'issuer_path': '%.200s': %s",
		         c->issuer_path, VALID_PREFIX_PATH_RULE);
		return CONFIG_ERR;
	}
	if (check_issuer(c->issuer, err, errlen) != 0)
		return CONFIG_ERR;
	if (check_hook(c, err, errlen) != 0 || check_paths(c, err, errlen) != 0 ||
	    check_tls(c, err, errlen) != 0 || check_admin(c, err, errlen) != 0 ||
	    check_key_rotation(c, err, errlen) != 0 ||
	    check_trusted_proxies(c, err, errlen) != 0 ||
	    check_cors(c, err, errlen) != 0)
		return CONFIG_ERR;
	if (c->db[0] == '\0') {
		snprintf(err, errlen, "setting 'db': must not be empty");
		return CONFIG_ERR;
	}
	return CONFIG_OK;
}

void config_free(struct lk_config *c)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == S_STR)
			free(*str_slot(c, &settings[i]));
	free(c->listen_host);
	free(c->admin_listen_host);
	memset(c, 0, sizeof(*c));
}

/*
 * config.h: latchkeyd's settings.
 *
 * One table (config.c) names every setting once. A setting `some_setting`
 * is read from the flag `--some-setting`, the variable LATCHKEY_SOME_SETTING
 * and the INI key `some_setting`, in that order of precedence over the
 * default. The same table prints --help and docs/configuration.md's list.
 */
#ifndef LK_CONFIG_H
#define LK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct lk_config {
	char *config;          /* INI file path, optional */
	char *listen;          /* HOST:PORT as given */
	char *issuer;          /* "" until derived from the bound address */
	char *db;
	char *durability;      /* normal | full */
	long audit_retention;  /* seconds; 0: forever */
	long jwks_max_age;     /* seconds, /jwks.json's Cache-Control */
	long key_rotation_interval; /* seconds; 0: off */
	long auto_migrate;     /* bool */
	long db_pool_size;     /* PostgreSQL connections per process */
	long db_connect_timeout;   /* seconds */
	long db_startup_timeout;   /* seconds; 0: do not wait */
	long db_statement_timeout; /* seconds; 0: none */
	long purge_interval;   /* seconds; 0: never */
	long access_token_ttl; /* seconds */
	long refresh_token_ttl;     /* seconds */
	long issue_refresh_token;   /* bool */
	long rotate_refresh_tokens; /* bool */
	char *on_refresh;           /* nothing | revoke | hook */
	char *on_refresh_hook;      /* "" for none */
	long on_refresh_hook_timeout_ms;
	long on_refresh_hook_max_concurrent;
	long require_pkce;          /* bool */
	long pkce_allow_plain;      /* bool */
	long authorization_code_ttl; /* seconds */
	long session_ttl;           /* seconds */
	long device_code_ttl;       /* seconds (RFC 8628 expires_in) */
	long device_poll_interval;  /* seconds (RFC 8628 interval) */
	char *auto_approve_as;      /* "" for off */
	char *signing_alg;     /* ES256 | RS256 */
	long id_token_ttl;     /* seconds */
	char *cors_allowed_origins; /* "" for none */
	char *audience;        /* "": the issuer is the default aud */
	long introspection_requires_flag; /* bool */
	long max_body_size;    /* bytes */
	long max_header_size;  /* bytes: request line and headers */
	long max_params;       /* form or query parameters per request */
	long max_param_length; /* bytes, one decoded value */
	long max_connections;
	long max_connections_per_address;
	char *trusted_proxies; /* addresses and CIDR blocks; "" for none */
	char *forwarded_header; /* x-forwarded-for | forwarded */
	long idle_timeout;     /* seconds without a byte before closing */
	char *tls_cert, *tls_key; /* PEM files; both or neither */
	char *tls_min_version;    /* 1.2 | 1.3 */
	char *tls_ciphers;        /* a GnuTLS priority string */
	/* RFC 8705: ask for client certificates; the CAs of tls_client_auth
	 * ("" for none, which leaves self-signed certificates only). */
	long tls_client_certs; /* bool */
	char *tls_client_ca;
	/* The admin HTTP API (docs/admin-api.md): "" for off. */
	char *admin_listen;       /* HOST:PORT, never listen's */
	char *admin_tls_cert, *admin_tls_key; /* PEM files; both or neither */
	char *admin_tls_client_ca; /* PEM CA certificates: a client
	                            * certificate they signed is required */
	long threads;
	long login_max_failures;
	long login_max_failures_per_address;
	long login_failure_window; /* seconds */
	long client_auth_max_failures;
	long client_auth_max_failures_per_address;
	long client_auth_failure_window; /* seconds */
	long jwks_uri_allow_private;     /* bool */
	long jwks_uri_timeout;           /* seconds */
	long jwks_uri_max_bytes;
	long jwks_uri_cache_ttl;         /* seconds */
	long dpop_nonce;                 /* bool: RFC 9449 section 8 */
	long ephemeral;        /* bool */
	char *fixtures;        /* "" for none */
	char *ready_file;      /* "" for none */
	long test_double;      /* bool */
	char *issuer_path;     /* "": none */
	long exit_on_stdin_close; /* bool */
	long exit_with_parent;  /* bool */
	char *token_path, *authorize_path, *revoke_path, *introspect_path;
	char *jwks_path, *metadata_path, *resource_path, *metrics_path;
	char *userinfo_path, *end_session_path;
	/* RFC 8628: the device authorization endpoint and the page where a
	 * person enters a user code */
	char *device_authorization_path, *device_path;
	char *openid_configuration_path; /* "": derived from the issuer */
	char *log_format;      /* text | json */
	char *log_level;       /* debug | info | warn | error */

	/* Derived by config_load from listen and admin_listen. */
	char *listen_host;
	int listen_port;
	char *admin_listen_host; /* NULL when admin_listen is "" */
	int admin_listen_port;
};

enum config_result { CONFIG_OK = 0, CONFIG_EXIT, CONFIG_VERSION, CONFIG_ERR };

/* Fills cfg from defaults, the INI file, the environment and argv.
 * CONFIG_EXIT: --help was printed to out; exit 0.
 * CONFIG_VERSION: --version was asked; the binary prints it (with the
 * libraries it links, version.h) and exits 0.
 * CONFIG_ERR: err holds a message naming the setting; exit non-zero.
 * cfg must be released with config_free in every case. */
enum config_result config_load(struct lk_config *cfg, int argc, char **argv,
                               FILE *out, char *err, size_t errlen);
void config_free(struct lk_config *cfg);
/* Fills cfg with every setting's default, and nothing else: the settings
 * table is the one place a default is written, so code that needs a
 * configuration without a command line (tests, the CLI) starts here.
 * Release with config_free. */
void config_defaults(struct lk_config *cfg);
/* The defaults, then the INI file at path, and nothing else (no
 * environment, no argv, no checks across settings): how the admin CLI
 * reads latchkeyd's file to find the same database. Each value is checked
 * as config_load checks it. 0, or -1 with err naming the file and the
 * setting. Release cfg with config_free in either case. */
int config_load_file(struct lk_config *cfg, const char *path, char *err,
                     size_t errlen);
/* The table's default of the whole-number setting name, for a module that
 * is handed 0 for "the default" (storage's PostgreSQL options). Aborts
 * for a name that is not such a setting: a typo, caught by any test. */
long config_default_int(const char *name);
void config_usage(FILE *out, const char *prog);

/* Splits "host:port" / "[v6]:port". Caller frees *host. 0, or -1. */
int config_parse_hostport(const char *s, char **host, int *port);

#endif

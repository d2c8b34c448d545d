/*
 * api_int.h: what the files of the admin API share.
 *
 *   api_httpd.c    the daemon, a request's life, authentication, the
 *                  route table, the access log
 *   api_util.c     answers and errors, the JSON body, query parameters,
 *                  pages of a listing, the audit trail
 *   api_clients.c  /admin/clients...      api_users.c  /admin/users...
 *   api_tokens.c   /admin/tokens...       api_keys.c   /admin/keys...
 *   api_sessions.c /admin/consents..., /admin/sessions...
 *   api_audit.c    /admin/audit-events, /admin/openapi.json
 *
 * Ownership: a struct api_req is the request's; its strings are freed
 * with it. Every answer goes through api_json or api_error, which queue
 * it with MHD and note the status and error for the access log.
 */
#ifndef LK_API_INT_H
#define LK_API_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "admin_api.h"
#include "netaddr.h"
#include "oauth_err.h"

struct api {
	const struct lk_config *cfg;
	struct grants *g;
	struct store *st;
	struct MHD_Daemon *daemon;
	bool client_certs; /* admin_tls_client_ca: a certificate is required */
};

#define API_MAX_ARGS 2
#define API_REQUEST_ID_MAX 64

struct api_route;

struct api_req {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method; /* MHD's */
	char *path;
	const struct api_route *route; /* found with the headers */
	char *body;
	size_t body_len, body_cap, drained;
	bool too_large;
	char addr[NETADDR_STRLEN];
	char request_id[API_REQUEST_ID_MAX + 1];
	char *client_id; /* the admin client, once authenticated */
	char *actor;     /* "admin-api:CLIENT_ID" */
	char *args[API_MAX_ARGS]; /* the route's {parameters}, decoded */
	json_t *in;               /* the JSON body (an object), or NULL */
	int status;
	const char *error;             /* the error code answered, or NULL */
	enum oauth_challenge challenge; /* WWW-Authenticate with the error */
	char allow[40];                /* a 405's Allow header */
	struct timespec started;
	bool responded;
};

typedef enum MHD_Result (*api_handler)(struct api_req *r);

/* One row of the route table (api_httpd.c). */
struct api_route {
	const char *method;
	const char *pattern; /* "{}" matches one path segment */
	api_handler fn;
	bool open;           /* served without a token */
};

/* ---- answers (api_util.c) -------------------------------------------- */

/* Answers status with body (taken; NULL: no body, as for 204). */
enum MHD_Result api_json(struct api_req *r, int status, json_t *body);
/* Answers the error e of the one table (oauth_err.c), with a description
 * (printf-style; NULL: the table's). A Bearer challenge for e's that
 * carry one, naming scope when given. */
enum MHD_Result api_error(struct api_req *r, enum oauth_err e,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A grants result (its description, scope and challenge). */
enum MHD_Result api_fail(struct api_req *r, struct oauth_result res);
/* 404: "WHAT 'NAME' not found". */
enum MHD_Result api_not_found(struct api_req *r, const char *what,
                              const char *name);
/* A store result other than STORE_OK while doing `doing` (logged): 503
 * for unavailable or busy, 409 for a conflict, 404 for not found (what,
 * name), 400 for a bad value, else 500. */
enum MHD_Result api_store_fail(struct api_req *r, enum store_rc rc,
                               const char *doing, const char *what,
                               const char *name);

/* ---- the request (api_util.c) ------------------------------------------ */

/* Reads the body as a JSON object into r->in (an empty body: {}), and
 * refuses members other than the space-separated names of allowed.
 * Returns true, or false having answered 400. */
bool api_body(struct api_req *r, const char *allowed);
/* The query parameter name, decoded; NULL when absent. */
const char *api_query(struct api_req *r, const char *name);
/* Refuses query parameters other than the names of allowed (space-
 * separated). Returns true, or false having answered 400. */
bool api_query_only(struct api_req *r, const char *allowed);

/* The user named (NULL: none asked for, true with u untouched) into u
 * (store_user_clear it); false having answered 404 or 503. */
bool api_user_lookup(struct api_req *r, const char *name,
                     struct store_user *u);

/* A member of r->in of one type: false (answered 400) when present with
 * another; *out untouched when absent. */
bool api_in_str(struct api_req *r, const char *key, const char **out);
bool api_in_bool(struct api_req *r, const char *key, bool *out);
bool api_in_int(struct api_req *r, const char *key, int64_t *out);

/* A listing's page from ?limit (1..API_LIMIT_MAX, default
 * API_LIMIT_DEFAULT) and ?since (seconds since the epoch): the newest
 * limit rows created at or after since. false: answered 400. */
#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000
bool api_page(struct api_req *r, struct store_page *p, int64_t *matched);
/* {"KEY": rows, "total": matched} answered 200, or the store's failure. */
enum MHD_Result api_listing(struct api_req *r, enum store_rc rc,
                            const char *key, json_t *rows, int64_t matched,
                            const char *doing);

/* ---- the audit trail (api_util.c) -------------------------------------- */

/* Records a change made: action ("client.update"), object ("client:ID")
 * and changes (taken; NULL: none named), actor the admin client and its
 * address; also logged. A failure to record is logged, not answered: the
 * change itself is made. */
void api_audit(struct api_req *r, const char *action, const char *object,
               json_t *changes);
/* The same for a change of the object KIND:NAME whose JSON was before
 * and is after (either NULL: added or removed; both taken), with extra
 * changes to name (taken; NULL: none): the fields that differ, as the
 * CLI records them (store_audit_changes). */
void api_audit_change(struct api_req *r, const char *action, const char *kind,
                      const char *name, json_t *before, json_t *after,
                      json_t *extra);
/* "KIND:NAME" in buf. */
const char *api_object(char *buf, size_t len, const char *kind,
                       const char *name);

/* ---- the handlers ------------------------------------------------------- */

enum MHD_Result api_clients_list(struct api_req *r);
enum MHD_Result api_clients_add(struct api_req *r);
enum MHD_Result api_client_get(struct api_req *r);
enum MHD_Result api_client_update(struct api_req *r);
enum MHD_Result api_client_remove(struct api_req *r);
enum MHD_Result api_client_rotate_secret(struct api_req *r);
enum MHD_Result api_client_disable(struct api_req *r);
enum MHD_Result api_client_enable(struct api_req *r);
enum MHD_Result api_users_list(struct api_req *r);
enum MHD_Result api_users_add(struct api_req *r);
enum MHD_Result api_user_get(struct api_req *r);
enum MHD_Result api_user_update(struct api_req *r);
enum MHD_Result api_user_remove(struct api_req *r);
enum MHD_Result api_tokens_list(struct api_req *r);
enum MHD_Result api_tokens_revoke(struct api_req *r);
enum MHD_Result api_keys_list(struct api_req *r);
enum MHD_Result api_keys_add(struct api_req *r);
enum MHD_Result api_keys_rotate(struct api_req *r);
enum MHD_Result api_consents_list(struct api_req *r);
enum MHD_Result api_consent_revoke(struct api_req *r);
enum MHD_Result api_sessions_list(struct api_req *r);
enum MHD_Result api_session_end(struct api_req *r);
enum MHD_Result api_audit_list(struct api_req *r);
enum MHD_Result api_openapi(struct api_req *r);

/* The OpenAPI document (openapi.json, embedded at build time). */
extern const char api_openapi_json[];

#endif

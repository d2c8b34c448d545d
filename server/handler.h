/*
 * handler.h: what a route handler sees, inside server/ and in a layer
 * around it (the test double, testdouble/): the request, the route table,
 * the form reader and the responders. The daemon, its threads and the
 * graceful stop stay in server_int.h.
 *
 * A layer changes the server only at start, before srv_start: it adds
 * routes (srv_route_add), wraps a route's handler (srv_route_at, then
 * replace fn and arg, keeping the old pair to call), and may hold a
 * request for a while without a worker (req_suspend, req_resume). The
 * production path neither sees nor pays for a layer that is not there.
 */
#ifndef LK_SERVER_HANDLER_H
#define LK_SERVER_HANDLER_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "grants.h"
#include "netaddr.h"

/* ---- form.c: application/x-www-form-urlencoded ------------------------- */

struct form_param {
	char *name;
	char *value;
};

struct form {
	struct form_param *v;
	size_t n;
};

enum form_rc { FORM_OK = 0, FORM_MALFORMED, FORM_TOO_MANY };

/* Parses a body or query string strictly: bad percent-escapes and encoded
 * NUL bytes are errors, not guesses. out is the caller's (form_free). */
enum form_rc form_parse(const char *s, size_t len, size_t max_params,
                        struct form *out);
/* The value of name, or NULL when absent. */
const char *form_get(const struct form *f, const char *name);
/* RFC 6749 section 3.2: "Parameters sent without a value MUST be treated
 * as if they were omitted from the request": NULL for absent or empty. */
const char *form_param(const struct form *f, const char *name);
/* Whether a Content-Type is application/x-www-form-urlencoded (media type
 * parameters such as charset allowed), as section 3.2 requires. */
bool form_content_type(const char *ct);
/* How many times name appears. */
size_t form_count(const struct form *f, const char *name);
/* The name of the first parameter other than except (NULL: none) whose
 * value is longer than max bytes, or NULL. */
const char *form_too_long(const struct form *f, size_t max,
                          const char *except);
/* The first parameter name that appears more than once, or NULL. */
const char *form_repeated(const struct form *f);
void form_free(struct form *f);

/* Decodes one form-urlencoded component into a new string (NULL on error). */
char *form_decode(const char *s, size_t len);

/* ---- basic_auth.c ------------------------------------------------------- */

enum basic_rc { BASIC_NONE = 0, BASIC_OK, BASIC_MALFORMED };
/* Reads "Authorization: Basic" (RFC 7617) whose user and password are
 * form-urlencoded client_id and secret (RFC 6749 section 2.3.1).
 * BASIC_NONE when the header is absent or another scheme. *id and *secret
 * are the caller's (crypto_free_str). */
enum basic_rc basic_auth_parse(const char *header, char **id, char **secret);

/* ---- sites: the issuers one server serves ------------------------------ */

struct lk_clock;
/* One issuer: its URL, the path its endpoints are served under, and the
 * grants and store behind them. A server has its own (the issuer, under
 * issuer_path or at the root); the test double's tenants add more
 * (srv_add_site), each with its own clock. A route belongs to one site,
 * and a request's site is its route's (the server's own when no route
 * matched). */
struct site {
	char *name;            /* "" for the server's own; a tenant's */
	char *issuer;          /* the issuer URL: the base plus prefix */
	char *prefix;          /* "" or "/realms/a" */
	struct grants *grants;
	struct store *store;
	struct lk_clock *clock; /* the site's own, or NULL: the process's */
	bool https;            /* the issuer is https: cookies get Secure */
	char *openid_path;     /* routes.c: the derived discovery path, or NULL */
	/* The URL of its protected resource's RFC 9728 metadata
	 * (resource_metadata.c), set before its routes are made */
	char *resource_metadata_url;
	char **paths;          /* routes.c: the paths its routes borrow */
	size_t npaths;
	/* The cookies of its pages: lk_session and lk_csrf (__Host- with
	 * https), a tenant's with "-NAME" after, so that tenants on one
	 * origin do not take each other's. */
	char cookie_session[80], cookie_csrf[80];
};

/* ---- the request -------------------------------------------------------- */

struct srv;
struct srv_req;
struct route;
typedef enum MHD_Result (*handler_fn)(struct srv_req *rq);

/* A request's life, one state at a time. Who moves it:
 *   REQ_NEW -> REQ_ROUTED          on_request's first call (httpd.c)
 *   REQ_ROUTED -> REQ_TOO_LARGE    a body chunk passes max_body_size
 *                                  (httpd.c); the rest is drained
 *   REQ_ROUTED -> REQ_SUSPENDED    req_suspend (request.c), from a handler
 *   REQ_SUSPENDED -> REQ_ROUTED    the call after req_resume (httpd.c),
 *                                  which then runs the continuation
 *   REQ_SUSPENDED -> REQ_ROUTED    req_unsuspend (request.c): the
 *                                  suspending handler takes it back
 *   any -> REQ_RESPONDED           a response was queued (respond.c)
 * on_completed (httpd.c) frees the request in whatever state it is. */
enum req_state {
	REQ_NEW = 0,
	REQ_ROUTED,
	REQ_TOO_LARGE,
	REQ_SUSPENDED,
	REQ_RESPONDED,
};

#define REQUEST_ID_MAX 128
#define USER_AGENT_MAX 200

struct srv_req {
	struct srv *srv;
	struct site *site; /* the route's, once routed; else the server's */
	struct MHD_Connection *conn;
	enum req_state state;
	const char *method; /* borrowed from MHD for the request's life */
	char *path;
	char *query;        /* raw, after '?'; NULL when the URI has none */
	const struct route *route;
	/* The numeric client address, "" if unknown: the socket peer, or
	 * the client a trusted proxy names (peer.c). */
	char remote_addr[64];
	bool forwarded;       /* a trusted proxy forwarded it (peer.c) */
	bool addr_counted;    /* in peer.c's per-client request count */
	struct netaddr client_addr; /* when addr_counted */
	/* In offload.c's count until on_completed: set by offload_start and
	 * kept past REQ_RESPONDED, like addr_counted, so not a state. */
	bool off_counted;
	char *body;
	size_t body_len;
	size_t body_cap; /* body's allocation */
	size_t drained; /* bytes read past the limit */
	/* REQ_SUSPENDED: what runs once the connection is resumed. */
	handler_fn resume;
	/* REQ_SUSPENDED on a token issue: the issue, the store's or
	 * offload.c's thread's until the resume (grants_issue_wait,
	 * grants_issue_run). */
	struct issue_wait *issue;
	bool token_rerun; /* its client changed under it: run again once */
	/* It carried a one-time value, a client assertion or a DPoP proof,
	 * spent by the first run: never run again. */
	bool token_once;
	int fd; /* the connection's socket, for client_gone; -1 if unknown */
	struct timespec started;
	/* for the access log */
	int status;
	const char *error;  /* static */
	char *client_id;
	char *grant_type;
	/* The request's id: the X-Request-Id it came with when well-formed,
	 * else a new one; echoed in the answer and in the access log. */
	char request_id[REQUEST_ID_MAX + 1];
	/* Its User-Agent, cut to USER_AGENT_MAX bytes of printable ASCII
	 * with '"' and '\\' made '?': the access log quotes it. */
	char user_agent[USER_AGENT_MAX + 1];
	/* cors.c, set once the route is known: whether the route answers
	 * cross-origin requests (its answers then say Vary: Origin), and
	 * the request's Origin when it is one of cors_allowed_origins (its
	 * answers then carry Access-Control-Allow-Origin). */
	bool cors;
	char *cors_origin;
};

/* ---- request.c ---------------------------------------------------------- */

/* A request header's value, or NULL. */
const char *req_header(struct srv_req *rq, const char *name);
/* A header that must come at most once (RFC 9449's DPoP): its first
 * value, NULL when absent; *repeated when it came more than once. */
const char *req_header_once(struct srv_req *rq, const char *name,
                            bool *repeated);
/* Whether the client has closed the connection (for token_request). */
bool req_client_gone(void *rq);
const char *req_cookie(struct srv_req *rq, const char *name);
/* Holds rq without a worker: its connection is suspended until
 * req_resume, from any thread, after which then(rq) runs on MHD's thread
 * as the route's handler would. Call from a handler, then return MHD_YES.
 * Whoever suspends must resume every request by the time srv_stop stops
 * the daemon (srv_on_stop is the moment to let them go). */
void req_suspend(struct srv_req *rq, handler_fn then);
void req_resume(struct srv_req *rq);
/* Takes back a suspension nobody will resume (a thread that did not
 * start): rq is the calling handler's again, to answer. */
void req_unsuspend(struct srv_req *rq);

/* ---- router.c: the route table ------------------------------------------ */

#define M_GET 0x1
#define M_POST 0x2
#define M_HEAD 0x4 /* every GET route but R_GET_ACTS ones */
#define M_OPTIONS 0x8 /* R_CORS routes while cors_allowed_origins is set */

/* Route flags (struct route's flags; routes.c's table sets them).
 * R_CORS: browser applications of the origins in cors_allowed_origins
 *   may call the route from their pages (CORS, cors.c): every answer of
 *   the route, errors included, gets Access-Control-Allow-Origin for
 *   such an Origin (and Vary: Origin for any), and OPTIONS gets the
 *   preflight answer. Only for endpoints that read no cookie and render
 *   no page: never /authorize, the HTML pages, /introspect or
 *   /_control/. A route opts in with this one flag. */
#define R_CORS 0x1
/* R_GET_ACTS: a GET may act (/authorize issues codes, /logout signs
 *   out), so the route does not answer HEAD: a link checker must not. */
#define R_GET_ACTS 0x2
/* R_PROTECTED: the route is the site's protected resource, the one its
 *   RFC 9728 metadata describes: its Bearer and DPoP challenges name
 *   that metadata's URL (resource_metadata, RFC 9728 section 5.1), an
 *   injected fault's too. Other token-taking endpoints (userinfo) are
 *   not that resource and do not. */
#define R_PROTECTED 0x4

struct route {
	const char *name; /* the endpoint's role ("token"), whatever its path */
	const char *path;
	unsigned methods;
	handler_fn fn;
	/* fn's own, read back through rq->route. A wrapper takes it over and
	 * calls the handler it wrapped with the same rq, so server/'s own
	 * handlers read none. */
	void *arg;
	/* NULL, or who may know the route exists: for others it is a 404,
	 * before the method, the size or the body are looked at. */
	bool (*admit)(struct srv_req *rq);
	unsigned flags; /* R_CORS, R_GET_ACTS, R_PROTECTED */
	struct site *site; /* whose; srv_route_add makes NULL the server's */
};

/* Adds r (copied; its strings borrowed for the server's life) before the
 * server starts. A GET route answers HEAD too unless it is R_GET_ACTS;
 * an R_CORS route answers OPTIONS while cors_allowed_origins is set.
 * -1 with err when the path is taken or the table is full. */
int srv_route_add(struct srv *s, const struct route *r, char *err,
                  size_t errlen);
/* Route i of the table, NULL past its end: a layer wraps a handler by
 * replacing fn and arg, before the server starts. */
struct route *srv_route_at(struct srv *s, size_t i);
/* Site i (0: the server's own), NULL past the last. */
struct site *srv_site_at(struct srv *s, size_t i);
/* fn(arg) runs once, when a stop begins (drain.c), before the requests
 * under way are waited for. One hook per server, before it starts: 0, or
 * -1 (nothing changed) when a hook is already set, since replacing it
 * would leave the first layer's suspended requests held past the stop. */
int srv_on_stop(struct srv *s, void (*fn)(void *), void *arg);
/* fn(arg, rq, status) runs for every answer, as it is queued and before
 * it can reach the client (so a client that asks the layer next finds it
 * there), on MHD's thread: status is the answer's. rq's headers, body and
 * fields (client_id, grant_type, error) are there; fn must not answer or
 * keep rq. A request that gets no answer (the client left, a body past
 * max_body_size dropped) is not seen. One hook per server, before it
 * starts: 0, or -1 (nothing changed) when one is set. */
int srv_on_answer(struct srv *s,
                     void (*fn)(void *arg, struct srv_req *rq, int status),
                     void *arg);

/* ---- respond.c ---------------------------------------------------------- */

/* Response headers beyond Content-Type, as a NULL-terminated name/value
 * list. */
struct hdr {
	const char *name, *value;
};

#define H_NO_STORE {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}

/* Sends body (stolen) as JSON with status and extra headers (may be NULL). */
enum MHD_Result respond_json(struct srv_req *rq, int status, json_t *body,
                             const struct hdr *extra);
/* A body of any type; takes body (freed with free). */
enum MHD_Result respond_text(struct srv_req *rq, int status, char *body,
                             size_t len, const char *type,
                             const struct hdr *extra);
/* An HTML page (stolen, freed with free) with the headers of every page
 * of /authorize: no caching, no framing, a Content-Security-Policy, and
 * Referrer-Policy same-origin (the origin to us, nothing to the client
 * the flow ends at); then up to 6 extra headers. */
enum MHD_Result respond_html(struct srv_req *rq, int status, char *html,
                             const struct hdr *extra);
/* A redirect to location, with the same protective headers. */
enum MHD_Result respond_redirect(struct srv_req *rq, int status,
                                 const char *location,
                                 const struct hdr *extra);
/* A response with no body (RFC 7009's 200). */
enum MHD_Result respond_empty(struct srv_req *rq, int status,
                              const struct hdr *extra);
/* The one error path: renders {"error","error_description"}, sets the
 * status and headers the RFCs ask for (a WWW-Authenticate challenge as
 * the table row says, Retry-After on 5xx), and notes the error for the
 * log. */
enum MHD_Result respond_error(struct srv_req *rq, struct oauth_result r,
                              const struct hdr *extra);
/* respond_error with the status and code (NULL: r's row's) the caller
 * names instead of r's row's, for an answer that stands in for the
 * endpoint's own: the test double's injected faults, any status from 400
 * to 599 with any code. r's row still chooses the challenge (its Bearer
 * form then names the code alone, without a description); Retry-After
 * goes with a 5xx status; the log notes r's row's code. */
enum MHD_Result respond_error_as(struct srv_req *rq, struct oauth_result r,
                                 int status, const char *code,
                                 const struct hdr *extra);
/* Notes e's code for the access log where the answer is not a JSON error
 * (an error page, a connection dropped for its size). */
void respond_note_error(struct srv_req *rq, enum oauth_err e);

#endif

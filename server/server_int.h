/*
 * server_int.h: declarations shared inside server/ only.
 */
#ifndef LK_SERVER_INT_H
#define LK_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "grants.h"
#include "netaddr.h"
#include "server.h"

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

/* ---- basic_auth.c --------------------------------------------------------- */

enum basic_rc { BASIC_NONE = 0, BASIC_OK, BASIC_MALFORMED };
/* Reads "Authorization: Basic" (RFC 7617) whose user and password are
 * form-urlencoded client_id and secret (RFC 6749 section 2.3.1).
 * BASIC_NONE when the header is absent or another scheme. *id and *secret
 * are the caller's (crypto_free_str). */
enum basic_rc basic_auth_parse(const char *header, char **id, char **secret);

/* ---- the request -------------------------------------------------------- */

struct srv;
struct route;

struct srv_req {
	struct srv *srv;
	struct MHD_Connection *conn;
	const char *method; /* borrowed from MHD for the request's life */
	char *path;
	char *query;        /* raw, after '?'; NULL when the URI has none */
	bool begun;         /* on_request has seen it */
	const struct route *route;
	/* The numeric client address, "" if unknown: the socket peer, or
	 * the client a trusted proxy names (peer.c). */
	char remote_addr[64];
	bool forwarded;       /* a trusted proxy forwarded it (peer.c) */
	bool addr_counted;    /* in peer.c's per-client request count */
	struct netaddr client_addr; /* when addr_counted */
	char *body;
	size_t body_len;
	size_t drained; /* bytes read past the limit */
	bool too_large;
	bool responded;
	/* offload.c: the handler runs on a thread of its own, and its
	 * response waits in pending until the connection is resumed. */
	bool offloaded;
	bool offload_done;
	bool off_counted; /* went through offload_start: offload_complete */
	struct MHD_Response *pending;
	/* The headers handlers read, copied before the offload so that the
	 * thread never calls into MHD (req_header answers from these). */
	char *h_content_type, *h_authorization;
	long delay_ms; /* an injected stall (control.c), served by offload.c */
	int fd; /* the connection's socket, for client_gone; -1 if unknown */
	struct timespec started;
	/* for the access log */
	int status;
	const char *error;  /* static */
	char *client_id;
	char *grant_type;
};

#define M_GET 0x1
#define M_POST 0x2
#define M_HEAD 0x4 /* every GET route but /authorize, which must not act */

typedef enum MHD_Result (*handler_fn)(struct srv_req *rq);

struct route {
	const char *name; /* the endpoint's role ("token"), whatever its path */
	const char *path;
	unsigned methods;
	handler_fn fn;
	bool control; /* /_control/: loopback clients only */
};

#define MAX_ROUTES 16

struct srv {
	struct MHD_Daemon *daemon;
	const struct lk_config *cfg;
	struct grants *grants;
	struct store *store;
	char *issuer;
	struct route routes[MAX_ROUTES];
	size_t nroutes;
	bool https; /* the issuer is https: cookies get Secure */
	unsigned char csrf_key[32];
	/* offload.c */
	pthread_mutex_t off_mu;
	pthread_cond_t off_idle;
	int off_running;  /* threads not yet done */
	int off_inflight; /* offloaded requests not yet completed */
	int off_max;
	bool off_stopping;
	bool off_cut; /* stalls end now (a stop has begun) */
	/* control.c */
	pthread_mutex_t fault_mu;
	struct fault *faults;
	struct peers *peers; /* peer.c */
	/* drain.c */
	atomic_bool stopping;    /* SIGTERM: answers say Connection: close */
	atomic_int live_reqs;    /* requests begun and not completed */
	atomic_int fresh_conns;  /* connections that have sent no request */
	atomic_int adopt_unseen; /* handed to MHD at the stop, not started */
};

/* ---- offload.c ---------------------------------------------------------- */

void offload_init(struct srv *s, int max);
/* Refuses new work and waits for the running handlers to finish, then
 * (a bounded time) for their responses to be sent. */
void offload_drain(struct srv *s);
/* Ends injected stalls at once (their requests then run as usual), so
 * that they do not hold up a graceful stop; new work is still taken. */
void offload_cut_stalls(struct srv *s);
/* After the daemon is stopped: no on_completed can call in any more. */
void offload_free(struct srv *s);
/* Suspends rq's connection and runs its handler again on a new thread with
 * rq->offloaded set. false (nothing changed) when the limit is reached or
 * no thread could be started: the caller answers 503. */
bool offload_start(struct srv_req *rq);
/* An offloaded request is over (its response sent, or the client gone). */
void offload_complete(struct srv *s);

/* ---- drain.c: a graceful stop ------------------------------------------ */

/* MHD_OPTION_NOTIFY_CONNECTION: counts connections until their first
 * request. */
void drain_on_connection(void *cls, struct MHD_Connection *c,
                         void **socket_context,
                         enum MHD_ConnectionNotificationCode code);
/* From req_new and on_completed: a request begins, a request is over. */
void drain_request_begins(struct srv *s, struct MHD_Connection *c);
void drain_request_ends(struct srv *s);
/* Whether a stop has begun. */
bool drain_stopping(const struct srv *s);
/* Stops accepting, hands MHD the connections already waiting, refuses
 * newer ones, and waits (bounded) for the requests under way. Returns the
 * listening socket, which the caller closes after MHD_stop_daemon, or -1. */
int drain(struct srv *s);

/* ---- peer.c: the client's address behind trusted proxies -------------- */

struct peers;
/* From the trusted_proxies, forwarded_header and
 * max_connections_per_address settings; -1 with err. peers_free undoes. */
int peers_init(struct srv *s, const struct lk_config *cfg, char *err,
               size_t errlen);
void peers_free(struct srv *s);
/* Whether any proxy is trusted: then MHD's per-address limit must be off,
 * as peer.c applies it. */
bool peers_any_trusted(const struct srv *s);
/* MHD's accept policy: untrusted peers past the per-address limit are
 * refused at once. */
enum MHD_Result peers_accept(void *cls, const struct sockaddr *addr,
                             socklen_t addrlen);
/* From MHD_OPTION_NOTIFY_CONNECTION: counts untrusted peers' connections. */
void peers_on_connection(struct srv *s, struct MHD_Connection *c,
                         enum MHD_ConnectionNotificationCode code);
/* On a request's first call: sets rq->remote_addr to the client a trusted
 * proxy names and rq->forwarded. false: that client has
 * max_connections_per_address requests under way already (answer 503).
 * Every request it was called for gets peers_request_done. */
bool peers_resolve(struct srv_req *rq);
void peers_request_done(struct srv_req *rq);

/* ---- router.c ----------------------------------------------------------- */


/* Builds s->routes from the path settings; -1 with err when two
 * endpoints would share a path. */
int router_init(struct srv *s, const struct lk_config *cfg, char *err,
                size_t errlen);
/* Finds the route for path; *allowed says whether method is accepted. */
const struct route *route_find(const struct srv *s, const char *path,
                               const char *method, bool *allowed);
/* "GET, HEAD" style value for the Allow header of route. */
const char *route_allow(const struct route *r);

/* ---- handlers.c --------------------------------------------------------- */

enum MHD_Result h_token(struct srv_req *rq);
enum MHD_Result h_introspect(struct srv_req *rq);
enum MHD_Result h_revoke(struct srv_req *rq);
enum MHD_Result h_jwks(struct srv_req *rq);
enum MHD_Result h_metadata(struct srv_req *rq);
enum MHD_Result h_healthz(struct srv_req *rq);
enum MHD_Result h_readyz(struct srv_req *rq);
enum MHD_Result h_metrics(struct srv_req *rq);
enum MHD_Result h_authorize(struct srv_req *rq); /* authorize.c */
/* authorize.c: the one guard of every HTML form this server renders: the
 * browser says the POST came from our own origin, and the form's csrf
 * field is the MAC of the browser's lk_csrf cookie. */
bool form_guard_ok(struct srv_req *rq, const struct form *f);
enum MHD_Result h_resource(struct srv_req *rq);  /* resource.c */
/* control.c: the test double's /_control/ endpoints */
enum MHD_Result h_control_clock(struct srv_req *rq);
enum MHD_Result h_control_faults(struct srv_req *rq);
enum MHD_Result h_control_reset(struct srv_req *rq);
enum MHD_Result h_control_tokens(struct srv_req *rq);
/* An armed fault for rq's route, taken: answered here (true), or left
 * as rq->delay_ms for the caller to honour. false: no fault. */
bool fault_fire(struct srv_req *rq, enum MHD_Result *ret);
void faults_free(struct srv *s);
/* RFC 7662's response body, shared with /resource. */
json_t *introspection_json(const struct introspection *in);

/* ---- httpd.c ------------------------------------------------------------ */

/* A request header's value, or NULL. */
const char *req_header(struct srv_req *rq, const char *name);
/* Whether the client has closed the connection (for token_request). */
bool req_client_gone(void *rq);
const char *req_cookie(struct srv_req *rq, const char *name);

/* ---- pages.c: the HTML of /authorize ------------------------------------ */

/* What every form carries: the OAuth request's parameters (in the order
 * pages.c names them; NULL ones are left out) and the CSRF token. */
struct page_form {
	const char *params[10];
	const char *csrf;
	char *action; /* the form's action: the authorization endpoint's path */
};

/* Each returns a new HTML document; the caller frees it. */
char *page_login(const struct page_form *f, const char *client_name,
                 const char *username, const char *message);
char *page_consent(const struct page_form *f, const char *client_name,
                   const char *username, const char *scope);
char *page_error(const char *message);

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
/* An HTML page (stolen) with the headers of every page: no caching, no
 * framing, a Content-Security-Policy, no referrer. */
/* A body of any type; takes body (freed with free). */
enum MHD_Result respond_text(struct srv_req *rq, int status, char *body,
                             size_t len, const char *type,
                             const struct hdr *extra);
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
/* Notes e's code for the access log where the answer is not a JSON error
 * (an error page, a connection dropped for its size). */
void respond_note_error(struct srv_req *rq, enum oauth_err e);

#endif

/*
 * server_int.h: declarations shared inside server/ only: the server
 * itself (struct srv), its threads, the graceful stop, the client's
 * address, and the handlers the route table names. What a handler sees
 * is handler.h, which a layer around the server (testdouble/) uses too.
 */
#ifndef LK_SERVER_INT_H
#define LK_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "handler.h"
#include "server.h"

/* Routes never move once added (a layer keeps pointers to them), so the
 * table is sized for every site: the server's own and up to
 * MAX_SITES - 1 tenants of the test double, about 25 routes each. */
#define MAX_ROUTES 512
#define MAX_SITES 17

struct srv {
	struct MHD_Daemon *daemon;
	const struct lk_config *cfg;
	/* sites[0] is the server's own issuer (srv_new), the rest the
	 * tenants srv_add_site added */
	struct site *sites[MAX_SITES];
	size_t nsites;
	struct route routes[MAX_ROUTES];
	size_t nroutes;
	char jwks_cache[48]; /* /jwks.json's Cache-Control (jwks_max_age) */
	unsigned char csrf_key[32];
	/* offload.c */
	pthread_mutex_t off_mu;
	pthread_cond_t off_idle;
	int off_running;  /* threads not yet done */
	int off_inflight; /* offloaded requests not yet completed */
	int off_max;
	bool off_stopping;
	/* srv_on_stop's hook */
	void (*on_stop)(void *);
	void *on_stop_arg;
	/* srv_on_answer's hook */
	void (*on_done)(void *, struct srv_req *, int);
	void *on_done_arg;
	struct peers *peers; /* peer.c */
	struct origin_list *cors; /* cors.c: cors_allowed_origins */
	/* drain.c */
	atomic_bool stopping;    /* SIGTERM: answers say Connection: close */
	atomic_int live_reqs;    /* requests begun and not completed */
	atomic_int fresh_conns;  /* connections that have sent no request */
	atomic_int adopt_unseen; /* handed to MHD at the stop, not started */
	/* Token requests suspended until their commit (handlers.c): the
	 * daemon must outlive them, since the store's writer resumes them. */
	atomic_int issues_waiting;
	/* Set by srv_stop before it waits for issues_waiting: from then on
	 * no token request suspends (token_wait answers it on its thread). */
	atomic_bool issues_closed;
	/* health.c: what the last /healthz or /readyz check found (0: ok) */
	atomic_int health;
};

/* ---- offload.c ---------------------------------------------------------- */

void offload_init(struct srv *s, int max);
/* Refuses new work and waits for the running handlers to finish, then
 * (a bounded time) for their responses to be sent. */
void offload_drain(struct srv *s);
/* After the daemon is stopped: no on_completed can call in any more. */
void offload_free(struct srv *s);
/* Suspends rq with the continuation then (req_suspend) and runs work(rq)
 * on a new thread, which resumes rq when work returns. work must not call
 * into MHD. false (nothing changed) when the limit is reached or no
 * thread could be started: the caller answers 503. */
bool offload_start(struct srv_req *rq, void (*work)(struct srv_req *rq),
                   handler_fn then);
/* An offloaded request is over (its response sent, or the client gone). */
void offload_complete(struct srv *s);

/* ---- drain.c: a graceful stop ------------------------------------------ */

/* The socket context of each connection (drain.c makes and frees it).
 * Only the thread serving the connection's request touches it. */
struct conn_note {
	bool begun; /* it has sent a request */
	/* tls_peer.c: the TLS client certificate as read for an earlier
	 * request of the connection (cert.x5t NULL: none read yet), so a
	 * keep-alive connection checks its certificate once. */
	struct tls_client_cert cert;
	int64_t cert_read_at; /* CLOCK_MONOTONIC seconds when it was read */
};

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

/* ---- cors.c: browser applications of other origins -------------------- */

struct origin_list;
/* From cors_allowed_origins; -1 with err. cors_free undoes. While the
 * list is empty (origin_list_empty(s->cors)) no route does CORS. */
int cors_init(struct srv *s, const struct lk_config *cfg, char *err,
              size_t errlen);
void cors_free(struct srv *s);
/* Once rq->route is known: notes whether the route does CORS and whether
 * the request's Origin is allowed (rq->cors, rq->cors_origin). */
void cors_route(struct srv_req *rq);
/* Adds what rq earned to its answer (respond.c, for every answer). */
void cors_headers(const struct srv_req *rq, struct MHD_Response *resp);
/* The headers of the answer (204) to OPTIONS on an R_CORS route, the
 * preflight, NULL-terminated in h. */
void cors_preflight_headers(const struct srv_req *rq, struct hdr h[5]);

/* ---- sites.c ------------------------------------------------------------ */

/* The server's own site, for issuer over g and st, under issuer_path,
 * with its routes; -1 with err. */
int sites_init(struct srv *s, const char *issuer, struct grants *g,
               struct store *st, char *err, size_t errlen);
void sites_free(struct srv *s);

/* ---- routes.c: the endpoints ------------------------------------------ */

/* Adds site's routes to s's table from the path settings, each under
 * the site's prefix (and the issuer, for the default discovery path);
 * the server-wide ones (/healthz, /readyz, metrics) only for the
 * server's own site. -1 with err when two endpoints would share a path,
 * except the two discovery documents, which are one. */
int routes_init(struct srv *s, struct site *site, const struct lk_config *cfg,
                char *err, size_t errlen);

/* ---- router.c ----------------------------------------------------------- */

/* Finds the route for path; *allowed says whether method is accepted. */
const struct route *route_find(const struct srv *s, const char *path,
                               const char *method, bool *allowed);
/* "GET, HEAD" style value for the Allow header of route. */
const char *route_allow(const struct route *r);

/* ---- handlers.c --------------------------------------------------------- */

enum MHD_Result h_token(struct srv_req *rq);
/* A token request that ended before its continuation ran (the client
 * left while its commit was under way): frees what it waited on. */
void token_abandoned(struct srv_req *rq);
enum MHD_Result h_introspect(struct srv_req *rq);
enum MHD_Result h_revoke(struct srv_req *rq);
enum MHD_Result h_jwks(struct srv_req *rq);
enum MHD_Result h_metadata(struct srv_req *rq); /* discovery.c: both documents */
enum MHD_Result h_healthz(struct srv_req *rq);
enum MHD_Result h_readyz(struct srv_req *rq);
enum MHD_Result h_metrics(struct srv_req *rq);
enum MHD_Result h_authorize(struct srv_req *rq); /* authorize.c */
/* authorize.c: the one guard of every HTML form this server renders: the
 * browser says the POST came from our own origin, and the form's csrf
 * field is the MAC of the browser's lk_csrf cookie. */
bool form_guard_ok(struct srv_req *rq, const struct form *f);
/* authorize.c: what every HTML page of this server shares (the login and
 * consent pages, and logout.c's): the cookies lk_session and lk_csrf
 * (__Host- with an https issuer), Set-Cookie values held until the page
 * is sent, and the form's CSRF token. */
enum cookie { COOKIE_SESSION, COOKIE_CSRF };
const char *cookie_name(const struct site *site, enum cookie c);
struct cookies {
	char *v[2]; /* Set-Cookie values, owned until the response is queued */
	size_t n;
};
/* Adds a Set-Cookie (Path=/, HttpOnly, SameSite=Lax, Secure with https;
 * max_age -1: a browser-session cookie, 0: deletes it). */
void cookie_add(struct cookies *c, const struct site *site,
                enum cookie which, const char *value, int64_t max_age);
/* The page (html stolen) with the page headers and c's cookies (freed);
 * a 503 gets Retry-After. */
enum MHD_Result send_page(struct srv_req *rq, int status, char *html,
                          struct cookies *c);
/* An error as a page: the status and the log's code from e's row. */
enum MHD_Result send_error_page(struct srv_req *rq, enum oauth_err e,
                                const char *message, struct cookies *c);
/* The csrf field of a form on the page being rendered (the caller frees),
 * setting the browser's lk_csrf cookie in c when it has none; NULL when
 * no random bytes could be had. */
char *page_csrf(struct srv_req *rq, struct cookies *c);
/* Where a form posts: the issuer's path plus path. The caller frees. */
char *page_action(const struct site *site, const char *path);
/* Reads a page endpoint's parameters (/authorize, /logout) into f: the
 * query of a GET, the form body of a POST, within max_params and, except
 * for an id_token_hint, max_param_length. NULL, or the message of the
 * error page to show (f is then freed). */
const char *page_form_read(struct srv_req *rq, struct form *f);
enum MHD_Result h_logout(struct srv_req *rq); /* logout.c */
/* device.c: RFC 8628's endpoint and page */
enum MHD_Result h_device_authorization(struct srv_req *rq);
enum MHD_Result h_device(struct srv_req *rq);
/* handlers.c: a form POST with client credentials, the shared front of
 * /token, /introspect, /revoke and device_authorization_path. Free with
 * form_req_free whatever form_req_read returned. */
struct form_req {
	struct form f;
	char *bid, *bsecret;
	struct tls_client_cert cert; /* creds.tls_cert when there is one */
	struct client_creds creds;
};
struct oauth_result form_req_read(struct srv_req *rq, struct form_req *fr);
void form_req_free(struct form_req *fr);
enum MHD_Result h_resource(struct srv_req *rq);  /* resource.c */
/* resource.c: the token of an "Authorization: Bearer" value (RFC 6750
 * section 2.1) or "DPoP" (RFC 9449 section 7.1, then *dpop), a new
 * string (crypto_free_str it), or NULL when malformed. */
char *bearer_token(const char *auth, bool *dpop);
/* base's headers into out (room for n, n > entries of base + 1), then
 * DPoP-Nonce when the site's proofs need a nonce (RFC 9449 section 8).
 * *nonce is the caller's to free after the answer. */
const struct hdr *with_dpop_nonce(struct srv_req *rq, const struct hdr *base,
                                  struct hdr *out, size_t n, char **nonce);
/* The URL a DPoP proof names for the endpoint at path: the issuer's,
 * never the Host header's (shared/DECISIONS.md). Caller frees. */
char *presented_htu(struct srv_req *rq, const char *path);
enum MHD_Result h_userinfo(struct srv_req *rq);  /* userinfo.c */
/* resource_metadata.c: RFC 9728 metadata of the resource at
 * resource_path. The URL for the resource identifier issuer plus
 * resource_path (section 3.1), a new string the caller frees; its path,
 * borrowed from site->resource_metadata_url; the document's handler. */
char *resource_metadata_url(const char *issuer, const char *resource_path);
const char *resource_metadata_path(const struct site *site);
enum MHD_Result h_resource_metadata(struct srv_req *rq);
/* RFC 7662's response body, shared with /resource. */
json_t *introspection_json(const struct introspection *in);

/* ---- tls_peer.c ---------------------------------------------------------- */

/* The TLS client certificate of rq's connection (RFC 8705) into *out,
 * which tls_peer_clear frees; false (and *out empty) when there is none,
 * the connection is not TLS, or a trusted proxy forwarded rq. */
bool tls_peer_cert(struct srv_req *rq, struct tls_client_cert *out);
void tls_peer_clear(struct tls_client_cert *c);
/* MHD_OPTION_NOTIFY_CONNECTION: what a new TLS connection's handshake
 * says of the certificates it asks for. */
void tls_peer_on_connection(struct srv *s, struct MHD_Connection *c,
                            enum MHD_ConnectionNotificationCode code);

/* ---- tls.c --------------------------------------------------------------- */

/* The GnuTLS priority string of tls_ciphers and tls_min_version, checked
 * by GnuTLS; a new string (free it), or NULL with err set. */
char *tls_priority(const struct lk_config *cfg, char *err, size_t errlen);
/* The notAfter of the first certificate in pem (seconds since the
 * epoch), or 0 when it cannot be read. */
long long tls_cert_not_after(const char *pem);

/* ---- pages.c: the HTML of /authorize, /logout and the device page ------- */

/* What every form carries: the OAuth request's parameters (in the order
 * pages.c names them; NULL ones are left out) and the CSRF token. */
struct page_form {
	const char *params[14];
	const char *csrf;
	char *action; /* the form's action: the endpoint's path (authorize_path,
	               * device_path) */
	/* The device page's forms (device.c): the user code, carried and
	 * shown on the consent page (RFC 8628 section 5.4); NULL: none. */
	const char *user_code;
};

/* Each returns a new HTML document; the caller frees it. */
char *page_login(const struct page_form *f, const char *client_name,
                 const char *username, const char *message);
char *page_consent(const struct page_form *f, const char *client_name,
                   const char *username, const char *scope);
char *page_error(const char *message);
/* logout.c's: the confirmation (a form posting action=logout with the
 * request's client_id, post_logout_redirect_uri and state, NULL ones left
 * out) and the "signed out" page. client_name may be NULL. */
char *page_logout(const char *action, const char *csrf,
                  const char *client_id, const char *post_logout_redirect_uri,
                  const char *state, const char *client_name);
char *page_signed_out(const char *client_name);
/* device.c's (RFC 8628 section 3.3): the form asking for the user code
 * (user_code prefilled, may be NULL; message an error line or NULL), and
 * the page once the person decided. */
char *page_device_code(const struct page_form *f, const char *user_code,
                       const char *message);
char *page_device_done(const char *client_name, bool approved);

#endif

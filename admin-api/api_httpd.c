/*
 * api_httpd.c: the admin API's libmicrohttpd daemon: its listener
 * (admin_listen, optionally HTTPS with required client certificates), a
 * request's life (route, read the body, authenticate, handle, log), and
 * the route table, which docs/admin-api.md and openapi.json describe.
 *
 * A request is authenticated once its body is in, before any handler
 * runs: the client certificate first (when admin_tls_client_ca is set),
 * then the Bearer token (grants_admin_token). Only the OpenAPI document
 * is served without them: it describes the API and holds no data.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api_int.h"
#include "clock.h"
#include "crypto.h"
#include "fileperm.h"
#include "log.h"
#include "netaddr.h"
#include "strutil.h"
#include "validate.h"

/* ---- routes ------------------------------------------------------------- */

static const struct api_route routes[] = {
	{"GET", "/admin/openapi.json", api_openapi, true},
	{"GET", "/admin/clients", api_clients_list, false},
	{"POST", "/admin/clients", api_clients_add, false},
	{"GET", "/admin/clients/{}", api_client_get, false},
	{"PATCH", "/admin/clients/{}", api_client_update, false},
	{"DELETE", "/admin/clients/{}", api_client_remove, false},
	{"POST", "/admin/clients/{}/rotate-secret", api_client_rotate_secret,
	 false},
	{"POST", "/admin/clients/{}/disable", api_client_disable, false},
	{"POST", "/admin/clients/{}/enable", api_client_enable, false},
	{"GET", "/admin/users", api_users_list, false},
	{"POST", "/admin/users", api_users_add, false},
	{"GET", "/admin/users/{}", api_user_get, false},
	{"PATCH", "/admin/users/{}", api_user_update, false},
	{"DELETE", "/admin/users/{}", api_user_remove, false},
	{"GET", "/admin/tokens", api_tokens_list, false},
	{"POST", "/admin/tokens/revoke", api_tokens_revoke, false},
	{"GET", "/admin/keys", api_keys_list, false},
	{"POST", "/admin/keys", api_keys_add, false},
	{"POST", "/admin/keys/rotate", api_keys_rotate, false},
	{"GET", "/admin/consents", api_consents_list, false},
	{"DELETE", "/admin/consents/{}/{}", api_consent_revoke, false},
	{"GET", "/admin/sessions", api_sessions_list, false},
	{"DELETE", "/admin/sessions/{}", api_session_end, false},
	{"GET", "/admin/audit-events", api_audit_list, false},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether path fits pattern; with args, the {} segments are copied
 * there (caller frees). */
static bool path_matches(const char *pattern, const char *path, char **args)
{
	size_t n = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (strncmp(pattern, "{}", 2) == 0) {
			size_t len = strcspn(path, "/");
			if (len == 0 || n >= API_MAX_ARGS)
				return false;
			if (args != NULL) {
				args[n] = xcalloc(1, len + 1);
				memcpy(args[n], path, len);
			}
			n++;
			pattern += 2;
			path += len;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

/* The route for r's method and path; NULL with r->allow the methods
 * the path takes ("" when none: 404, else 405). */
static const struct api_route *route_find(struct api_req *r)
{
	const struct api_route *found = NULL;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!path_matches(routes[i].pattern, r->path, NULL))
			continue;
		size_t n = strlen(r->allow);
		snprintf(r->allow + n, sizeof(r->allow) - n, "%s%s",
		         n ? ", " : "", routes[i].method);
		if (strcmp(routes[i].method, r->method) == 0)
			found = &routes[i];
	}
	return found;
}

/* ---- a request ---------------------------------------------------------- */

/* As the public listener's (server/httpd.c): a well-formed X-Request-Id
 * is kept, else one is made. */
static void request_id(struct api_req *r)
{
	const char *id = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             "X-Request-Id");
	if (id != NULL && valid_request_id(id, API_REQUEST_ID_MAX)) {
		snprintf(r->request_id, sizeof(r->request_id), "%s", id);
		return;
	}
	char *gen = crypto_ordered_id(9);
	snprintf(r->request_id, sizeof(r->request_id), "%s", gen ? gen : "-");
	free(gen);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the URI as sent, before MHD decodes it,
 * so a path parameter may hold an escaped "/" (%2F: a username may have
 * one); each {} segment is decoded on its own once routed. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct api_req *r = xcalloc(1, sizeof(*r));
	size_t n = strcspn(uri, "?");
	r->api = cls;
	r->conn = c;
	r->path = xcalloc(1, n + 1);
	memcpy(r->path, uri, n);
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	return r;
}

/* The first call, with the headers: who is asking. */
static void req_begin(struct api_req *r, const char *method)
{
	r->method = method;
	/* The peer itself: no proxy is trusted here (the admin listener is
	 * for a management network, not behind the public proxies). */
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct netaddr na;
	if (ci != NULL && ci->client_addr != NULL &&
	    netaddr_from_sockaddr(ci->client_addr, &na))
		netaddr_str(&na, r->addr);
	request_id(r);
}

static void req_free(struct api_req *r)
{
	if (r->body != NULL) {
		crypto_wipe(r->body, r->body_len); /* passwords, secrets */
		free(r->body);
	}
	for (size_t i = 0; i < API_MAX_ARGS; i++)
		free(r->args[i]);
	/* The parsed body holds the same secrets as the raw one. */
	static const char *const secret_members[] = {"password",
	                                             "client_secret"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(r->in, secret_members[i]);
		if (json_is_string(v))
			crypto_wipe((char *)json_string_value(v),
			            json_string_length(v));
	}
	json_decref(r->in);
	free(r->path);
	free(r->client_id);
	free(r->actor);
	free(r);
}

/* Past the limit (or once answered), a body is drained so the client
 * still reads its answer, but only this much more; then the connection
 * is dropped (as the public listener does). */
#define DRAIN_MAX (1024 * 1024)

/* Returns false when the connection should be closed. */
static bool body_append(struct api_req *r, const char *data, size_t len)
{
	size_t max = (size_t)r->api->cfg->max_body_size;
	if (r->responded || r->too_large || r->body_len + len > max) {
		r->too_large = !r->responded;
		r->drained += len;
		return r->drained <= DRAIN_MAX;
	}
	crypto_buf_append(&r->body, &r->body_len, &r->body_cap, 1024, max,
	                  data, len);
	return true;
}

static bool declared_too_large(struct api_req *r)
{
	const char *cl = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return errno != 0 || *end != '\0' ||
	       n > (unsigned long long)r->api->cfg->max_body_size;
}

/* admin_tls_client_ca: the peer presented a certificate chain that
 * GnuTLS verifies against it. */
static bool client_cert_ok(struct api_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return false;
	gnutls_session_t s = (gnutls_session_t)ci->tls_session;
	unsigned n = 0, status = 0;
	if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0)
		return false;
	return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

/* The Bearer token of the Authorization header (RFC 6750 section 2.1),
 * authenticated; false having answered the refusal. */
static bool authenticate(struct api_req *r)
{
	const char *auth = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL) {
		api_error(r, OAUTH_BEARER_MISSING, NULL);
		return false;
	}
	const char *tok = auth;
	if (strncasecmp(tok, "Bearer ", 7) != 0) {
		api_error(r, OAUTH_BEARER_INVALID_REQUEST, "the Authorization "
		          "header is not a Bearer token");
		return false;
	}
	tok += 7;
	while (*tok == ' ')
		tok++;
	struct oauth_result res = grants_admin_token(r->api->g, tok,
	                                             &r->client_id);
	if (res.err != OAUTH_OK) {
		log_security("admin API: refused a token: %s",
		             res.description ? res.description
		                             : oauth_err_info(res.err)->code);
		api_fail(r, res);
		return false;
	}
	if (asprintf(&r->actor, "admin-api:%s", r->client_id) < 0)
		abort();
	return true;
}

/* The headers are in: route, and refuse before any body is read what
 * can be refused (an unknown path or method, no client certificate, no
 * valid token, a declared body over max_body_size), so an unauthenticated
 * caller cannot make the listener read a body at all. */
static void on_headers(struct api_req *r)
{
	r->route = route_find(r);
	if (r->route == NULL && r->allow[0] != '\0') {
		api_error(r, OAUTH_METHOD_NOT_ALLOWED, NULL);
	} else if (r->route == NULL) {
		api_error(r, OAUTH_NOT_FOUND, NULL);
	} else if (r->api->client_certs && !client_cert_ok(r)) {
		/* Every request, the open document's too. */
		log_security("admin API: refused a request without a valid "
		             "client certificate");
		api_error(r, OAUTH_ENDPOINT_FORBIDDEN, "a client certificate "
		          "signed by admin_tls_client_ca is required");
	} else if (!r->route->open && !authenticate(r)) {
		/* answered */
	} else if (declared_too_large(r)) {
		api_error(r, OAUTH_REQUEST_TOO_LARGE, NULL);
	}
}

/* The whole body is in: decode the path's parameters, handle. */
static enum MHD_Result dispatch(struct api_req *r)
{
	if (r->too_large)
		return api_error(r, OAUTH_REQUEST_TOO_LARGE, NULL);
	path_matches(r->route->pattern, r->path, r->args);
	for (size_t i = 0; i < API_MAX_ARGS && r->args[i] != NULL; i++)
		if (MHD_http_unescape(r->args[i]) != strlen(r->args[i]))
			return api_error(r, OAUTH_INVALID_REQUEST, "a path "
			                 "parameter holds a NUL byte");
	return r->route->fn(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
	(void)version;
	struct api_req *r = *req_cls;
	enum MHD_Result res = MHD_YES;
	if (r == NULL) /* only if MHD skipped the URI callback */
		*req_cls = r = uri_log(cls, url, c);
	if (r->method == NULL) {
		req_begin(r, method);
		log_context(r->addr, r->request_id);
		on_headers(r);
	} else if (*upload_size > 0) {
		log_context(r->addr, r->request_id);
		if (!body_append(r, upload, *upload_size))
			res = MHD_NO;
		*upload_size = 0;
	} else if (!r->responded) {
		log_context(r->addr, r->request_id);
		res = dispatch(r);
	}
	log_context(NULL, NULL);
	return res;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	struct api_req *r = *req_cls;
	if (r == NULL)
		return;
	if (r->method == NULL) { /* MHD refused it before on_request */
		req_free(r);
		*req_cls = NULL;
		return;
	}
	int status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || r->responded
	                 ? r->status
	                 : 0;
	log_request(&(struct access_line){
	    .method = r->method, .path = r->path, .status = status,
	    .addr = r->addr, .client_id = r->client_id, .error = r->error,
	    .request_id = r->request_id, .ms = clock_ms_since(&r->started)});
	req_free(r);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_vmsg(LOG_WARN, "admin API", fmt, ap);
}

/* ---- the listener ------------------------------------------------------- */

struct admin_api {
	struct api a;
};

static int resolve(const struct lk_config *cfg, struct sockaddr_storage *ss,
                   char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%d", cfg->admin_listen_port);
	int rc = getaddrinfo(cfg->admin_listen_host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "setting 'admin_listen': cannot resolve "
		         "'%s': %s", cfg->admin_listen_host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

int admin_api_start(const struct lk_config *cfg, struct grants *g,
                    struct store *st, struct admin_api **out, int *port,
                    char *err, size_t errlen)
{
	*out = NULL;
	*port = 0;
	if (cfg->admin_listen[0] == '\0')
		return 0;
	struct sockaddr_storage ss = {0};
	if (resolve(cfg, &ss, err, errlen) != 0)
		return -1;
	bool tls = cfg->admin_tls_cert[0] != '\0';
	char *cert = NULL, *key = NULL, *ca = NULL;
	if (tls && ((cert = file_read_pem(cfg->admin_tls_cert)) == NULL ||
	            (key = file_read_pem(cfg->admin_tls_key)) == NULL ||
	            (cfg->admin_tls_client_ca[0] != '\0' &&
	             (ca = file_read_pem(cfg->admin_tls_client_ca)) == NULL))) {
		snprintf(err, errlen, "admin API: cannot read admin_tls_cert, "
		         "admin_tls_key or admin_tls_client_ca");
		crypto_free_str(cert);
		crypto_free_str(key);
		return -1;
	}
	/* The public listener's versions and ciphers (tls_min_version,
	 * tls_ciphers), which server/tls.c checked at start. */
	char *prio = NULL;
	if (asprintf(&prio, "%s:%s", cfg->tls_ciphers,
	             strcmp(cfg->tls_min_version, "1.3") == 0
	                 ? "-VERS-ALL:+VERS-TLS1.3"
	                 : "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2") < 0)
		abort();
	struct admin_api *api = xcalloc(1, sizeof(*api));
	api->a = (struct api){.cfg = cfg, .g = g, .st = st,
	                      .client_certs = ca != NULL};
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The TLS options come last, so that without TLS they end the
	 * list; the trust store, only with client certificates. */
	api->a.daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, &api->a,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &api->a,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, 2u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, &api->a,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_log, &api->a,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)cfg->max_connections_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header_size,
	    MHD_OPTION_CONNECTION_LIMIT, 64u,
	    tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_PRIORITIES, prio,
	    ca != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ca,
	    MHD_OPTION_END);
	crypto_free_str(cert);
	crypto_free_str(key);
	free(ca);
	free(prio);
	if (api->a.daemon == NULL) {
		snprintf(err, errlen, "admin API: cannot serve on %s: %s",
		         cfg->admin_listen, errno ? strerror(errno) : "refused");
		free(api);
		return -1;
	}
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(api->a.daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = di != NULL ? di->port : cfg->admin_listen_port;
	*out = api;
	return 0;
}

void admin_api_stop(struct admin_api *api)
{
	if (api == NULL)
		return;
	MHD_stop_daemon(api->a.daemon);
	free(api);
}

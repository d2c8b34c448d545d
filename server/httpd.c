/*
 * httpd.c: the libmicrohttpd adapter. Owns the listening socket, the
 * daemon and the per-request struct srv_req.
 *
 * MHD calls on_request several times per request: first with the headers
 * (we route, and refuse early with 404/405/413 where we can), then with
 * body chunks (buffered up to max_body_size), then once more with no data,
 * when the handler runs and responds. on_completed frees the request and
 * writes its access-log line, whatever happened to it; a request MHD
 * refused itself (a malformed request line or headers, before on_request)
 * is freed without one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fileperm.h"
#include "metrics.h"
#include "clock.h"
#include "validate.h"
#include "crypto.h"
#include "log.h"
#include "server_int.h"
#include "strutil.h"

int srv_listen(const char *host, int port, int *bound_port, char *err,
               size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char portstr[8];

	snprintf(portstr, sizeof(portstr), "%d", port);
	int rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "setting 'listen': cannot resolve '%s': %s",
		         host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	                ai->ai_protocol);
	int one = 1;
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		snprintf(err, errlen, "setting 'listen': cannot listen on %s:%d: %s",
		         host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*bound_port = ntohs(ss.ss_family == AF_INET6
	                        ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                        : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

char *srv_default_issuer(const char *host, int port, bool https)
{
	char *iss = NULL;
	bool v6 = strchr(host, ':') != NULL;
	if (asprintf(&iss, "%s://%s%s%s:%d", https ? "https" : "http",
	             v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
		return NULL;
	return iss;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the one place MHD shows the raw request
 * URI, so the query string can be parsed strictly (form.c) rather than
 * through MHD's lenient decoding. MHD hands the result to on_request as
 * *req_cls and to on_completed, which frees it. */
static void *req_new(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct srv_req *rq = xcalloc(1, sizeof(*rq));
	const char *q = strchr(uri, '?');
	rq->srv = cls;
	rq->site = rq->srv->sites[0]; /* until routed */
	rq->conn = c;
	rq->query = q != NULL ? xstrdup(q + 1) : NULL;
	const union MHD_ConnectionInfo *fi =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	rq->fd = fi != NULL ? fi->connect_fd : -1;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL)
		getnameinfo(ci->client_addr,
		            ci->client_addr->sa_family == AF_INET6
		                ? sizeof(struct sockaddr_in6)
		                : sizeof(struct sockaddr_in),
		            rq->remote_addr, sizeof(rq->remote_addr), NULL, 0,
		            NI_NUMERICHOST);
	clock_gettime(CLOCK_MONOTONIC, &rq->started);
	drain_request_begins(rq->srv, c);
	return rq;
}

static void req_free(struct srv_req *rq)
{
	if (rq->body != NULL) {
		crypto_wipe(rq->body, rq->body_len); /* bodies carry secrets */
		free(rq->body);
	}
	free(rq->path);
	free(rq->query);
	free(rq->client_id);
	free(rq->grant_type);
	free(rq->cors_origin);
	free(rq);
}

static bool declared_too_large(struct srv_req *rq)
{
	const char *cl = MHD_lookup_connection_value(
	    rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return errno != 0 || *end != '\0' ||
	       n > (unsigned long long)rq->srv->cfg->max_body_size;
}

struct framing {
	unsigned content_length;
	unsigned transfer_encoding;
	bool chunked; /* the (one) Transfer-Encoding is exactly "chunked" */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
	struct framing *f = cls;
	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->chunked = value != NULL && strcasecmp(value, "chunked") == 0;
	}
	return MHD_YES;
}

/* RFC 9112 section 6.3: a body whose length two headers could state
 * differently is how requests are smuggled past a proxy that reads the
 * other one. Refused: more than one Content-Length (even equal ones,
 * which the RFC lets a server refuse: simpler than comparing), both
 * Content-Length and Transfer-Encoding (section 6.1 says a server MAY
 * refuse; a proxy in front may have framed by the other), and a
 * Transfer-Encoding other than one "chunked" (section 6.1: its length
 * cannot be determined, MUST be 400 and close). */
static bool framing_bad(struct srv_req *rq)
{
	struct framing f = {0};
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 ||
	       (f.content_length > 0 && f.transfer_encoding > 0) ||
	       f.transfer_encoding > 1 ||
	       (f.transfer_encoding == 1 && !f.chunked);
}

/* The request id and the user agent, for the answer and the log. */
static void identify(struct srv_req *rq)
{
	const char *id = req_header(rq, "X-Request-Id");
	if (id != NULL && valid_request_id(id, REQUEST_ID_MAX)) {
		memcpy(rq->request_id, id, strlen(id) + 1);
	} else {
		/* Time-ordered: a log sorted by id is sorted by arrival. */
		char *gen = crypto_ordered_id(9);
		if (gen != NULL)
			snprintf(rq->request_id, sizeof(rq->request_id), "%s", gen);
		free(gen);
	}
	const char *ua = req_header(rq, MHD_HTTP_HEADER_USER_AGENT);
	size_t n = 0;
	for (; ua != NULL && ua[n] != '\0' && n < USER_AGENT_MAX; n++) {
		unsigned char c = (unsigned char)ua[n];
		rq->user_agent[n] = c < 0x20 || c > 0x7e || c == '"' || c == '\\'
		                        ? '?'
		                        : (char)c;
	}
	rq->user_agent[n] = '\0';
}

/* First call: route, and refuse what can be refused before any body.
 * admitted: peer.c's per-client limit let the request in (it is refused
 * after the framing check, which every request gets first). */
static enum MHD_Result on_headers(struct srv_req *rq, bool admitted)
{
	bool allowed;
	/* Before routing and before any body: where this request ends is
	 * unknown, so nothing after it on the connection can be trusted. */
	if (framing_bad(rq)) {
		static const struct hdr close[] = {
		    {MHD_HTTP_HEADER_CONNECTION, "close"}, {NULL, NULL}};
		return respond_error(rq, OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                     "The request states its body length more "
		                     "than once, or in a way that is not allowed."),
		                     close);
	}
	if (!admitted)
		return respond_error(rq, OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE,
		                     "too many requests from this address at "
		                     "once"), NULL);
	rq->route = route_find(rq->srv, rq->path, rq->method, &allowed);
	if (rq->route != NULL && rq->route->admit != NULL &&
	    !rq->route->admit(rq))
		rq->route = NULL;
	if (rq->route != NULL) {
		rq->site = rq->route->site;
		clock_use(rq->site->clock);
	}
	if (rq->route == NULL)
		return respond_error(rq, OAUTH_FAIL(OAUTH_NOT_FOUND, NULL), NULL);
	cors_route(rq); /* before any answer of the route, errors included */
	if (!allowed)
		return respond_error(rq, OAUTH_FAIL(OAUTH_METHOD_NOT_ALLOWED, NULL),
		                     NULL);
	if (declared_too_large(rq))
		return respond_error(rq, OAUTH_FAIL(OAUTH_REQUEST_TOO_LARGE, NULL),
		                     NULL);
	return MHD_YES;
}

/* Past the limit, a chunked body is drained (MHD cannot answer in the
 * middle of an upload) so the client still gets its 413, but only this
 * much more; then the connection is dropped. */
#define DRAIN_MAX (1024 * 1024)

/* The first body buffer: a token request's form fits, and it stays
 * below glibc's large-bin size (1 KiB), whose allocation consolidates. */
#define BODY_FIRST 512

/* Returns false when the connection should be closed. */
static bool on_body(struct srv_req *rq, const char *data, size_t len)
{
	size_t max = (size_t)rq->srv->cfg->max_body_size;
	if (rq->state == REQ_TOO_LARGE || rq->body_len + len > max) {
		rq->state = REQ_TOO_LARGE;
		rq->drained += len;
		return rq->drained <= DRAIN_MAX;
	}
	/* Sized to the body, not to max_body_size: a large block per
	 * request made glibc consolidate its free lists every time (2% of
	 * the CPU at 16 connections). */
	crypto_buf_append(&rq->body, &rq->body_len, &rq->body_cap, BODY_FIRST,
	                  max, data, len);
	return true;
}

static enum MHD_Result handle(struct srv_req *rq, const char *url,
                              const char *method, const char *upload,
                              size_t *upload_size)
{
	if (rq->state == REQ_NEW) {
		rq->state = REQ_ROUTED;
		rq->method = method;
		rq->path = xstrdup(url);
		identify(rq);
		bool admitted = peers_resolve(rq);
		log_context(rq->remote_addr, rq->request_id);
		return on_headers(rq, admitted);
	}
	log_context(rq->remote_addr, rq->request_id);
	if (*upload_size > 0) {
		bool keep = rq->state == REQ_RESPONDED ||
		            on_body(rq, upload, *upload_size);
		*upload_size = 0;
		if (!keep)
			respond_note_error(rq, OAUTH_REQUEST_TOO_LARGE);
		return keep ? MHD_YES : MHD_NO;
	}
	switch (rq->state) {
	case REQ_RESPONDED:
		return MHD_YES;
	case REQ_TOO_LARGE:
		return respond_error(rq, OAUTH_FAIL(OAUTH_REQUEST_TOO_LARGE, NULL),
		                     NULL);
	case REQ_SUSPENDED: /* back from req_resume: its continuation */
		rq->state = REQ_ROUTED;
		return rq->resume(rq);
	case REQ_ROUTED: /* the whole body is in: the handler runs */
		/* Only R_CORS routes take OPTIONS: the CORS preflight, answered
		 * here once the request is read, so the connection stays open. */
		if (strcmp(rq->method, "OPTIONS") == 0) {
			struct hdr h[5];
			cors_preflight_headers(rq, h);
			return respond_empty(rq, 204, h);
		}
		return rq->route->fn(rq);
	case REQ_NEW: /* handled above */
		break;
	}
	return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
	struct srv_req *rq = *req_cls;
	(void)version;

	if (rq == NULL) /* only if MHD skipped the URI callback */
		*req_cls = rq = req_new(cls, url, c);
	/* Security lines written while this request is handled name its
	 * address and id (log.h), and times are its site's; the thread then
	 * serves others. */
	clock_use(rq->site->clock);
	enum MHD_Result r = handle(rq, url, method, upload, upload_size);
	log_context(NULL, NULL);
	clock_use(NULL);
	return r;
}

/* One slot, refused rather than replaced, as srv_on_stop's. */
int srv_on_answer(struct srv *s,
                     void (*fn)(void *arg, struct srv_req *rq, int status),
                     void *arg)
{
	if (s->on_done != NULL)
		return -1;
	s->on_done = fn;
	s->on_done_arg = arg;
	return 0;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct srv_req *rq = *req_cls;
	(void)c;
	if (rq == NULL)
		return;
	drain_request_ends(cls);
	if (rq->state == REQ_NEW) { /* MHD refused it before on_request */
		req_free(rq);
		*req_cls = NULL;
		return;
	}
	int status = rq->status;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
	    rq->state != REQ_RESPONDED)
		status = 0; /* the client went away before an answer */
	double ms = clock_ms_since(&rq->started);
	peers_request_done(rq);
	log_request(&(struct access_line){
	    .method = rq->method, .path = rq->path, .status = status,
	    .addr = rq->remote_addr, .client_id = rq->client_id,
	    .grant_type = rq->grant_type, .error = rq->error,
	    .request_id = rq->request_id, .user_agent = rq->user_agent,
	    .ms = ms});
	metrics_request(rq->route ? rq->route->name : NULL, status, ms);
	bool offloaded = rq->off_counted;
	struct srv *s = rq->srv;
	token_abandoned(rq);
	req_free(rq);
	if (offloaded)
		offload_complete(s);
	*req_cls = NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a graceful stop (drain.c) and the
 * per-address connection count (peer.c) both follow connections. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	drain_on_connection(cls, c, socket_context, code);
	peers_on_connection(cls, c, code);
	tls_peer_on_connection(cls, c, code);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_vmsg(LOG_WARN, "libmicrohttpd", fmt, ap);
}

/* Undoes srv_new. */
static void srv_free(struct srv *s)
{
	offload_free(s);
	peers_free(s);
	cors_free(s);
	sites_free(s);
	free(s);
}

int srv_new(const struct lk_config *cfg, struct grants *g, struct store *st,
            const char *issuer, struct srv **out, char *err, size_t errlen)
{
	struct srv *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	snprintf(s->jwks_cache, sizeof(s->jwks_cache), "public, max-age=%ld",
	         cfg->jwks_max_age);
	offload_init(s, (int)cfg->on_refresh_hook_max_concurrent);
	if (cors_init(s, cfg, err, errlen) != 0 ||
	    sites_init(s, issuer, g, st, err, errlen) != 0 ||
	    peers_init(s, cfg, err, errlen) != 0) {
		srv_free(s);
		return -1;
	}
	if (crypto_random(s->csrf_key, sizeof(s->csrf_key)) != 0) {
		snprintf(err, errlen, "no randomness for the CSRF key");
		srv_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int srv_start(struct srv *s, int listen_fd, char *err, size_t errlen)
{
	const struct lk_config *cfg = s->cfg;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	char *cert = NULL, *key = NULL, *trust = NULL;
	bool tls = cfg->tls_cert[0] != '\0';
	/* RFC 8705: libmicrohttpd asks for (and never requires) a client
	 * certificate when given a trust list. tls_client_ca is the list
	 * tls_client_auth needs; without it, the server's own certificate
	 * stands in, and nothing is checked against it (tls_peer.c). The
	 * handshake takes any certificate either way: the clients'
	 * registered ones decide (grants/client_auth.c). */
	bool ask = tls && (cfg->tls_client_certs || cfg->tls_client_ca[0]);
	/* Checked even without TLS: a typo shows before HTTPS is on. */
	char *prio = tls_priority(cfg, err, errlen);
	if (prio == NULL) {
		close(listen_fd);
		return -1;
	}
	if (tls) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
		    (cert = file_read_pem(cfg->tls_cert)) == NULL ||
		    (key = file_read_pem(cfg->tls_key)) == NULL) {
			snprintf(err, errlen, "cannot use tls_cert/tls_key: %s",
			         MHD_is_feature_supported(MHD_FEATURE_TLS)
			             ? "a file cannot be read"
			             : "libmicrohttpd was built without TLS");
			crypto_free_str(cert);
			free(prio);
			close(listen_fd);
			return -1;
		}
		if (ask && (trust = file_read_pem(cfg->tls_client_ca[0] != '\0'
		                                      ? cfg->tls_client_ca
		                                      : cfg->tls_cert)) == NULL) {
			snprintf(err, errlen, "cannot use tls_client_ca: the file "
			         "cannot be read");
			crypto_free_str(cert);
			crypto_free_str(key);
			free(prio);
			close(listen_fd);
			return -1;
		}
		flags |= MHD_USE_TLS;
		metrics_set_cert_expiry(tls_cert_not_after(cert));
	}
	/* The TLS options come last so that without TLS they end the list. */
	/* Behind trusted proxies peer.c applies the per-address limit,
	 * exempting the proxies; MHD's cannot exempt anyone. */
	unsigned per_ip = peers_any_trusted(s)
	                      ? 0
	                      : (unsigned)cfg->max_connections_per_address;
	s->daemon = MHD_start_daemon(
	    flags, 0, peers_accept, s, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first, per MHD */
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_URI_LOG_CALLBACK, req_new, s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header_size,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_PRIORITIES, prio,
	    trust != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, trust,
	    MHD_OPTION_END);
	free(prio); /* MHD has parsed it into its own */
	free(trust); /* public certificates */
	/* MHD has loaded them into its TLS credentials by now. */
	crypto_free_str(cert);
	crypto_free_str(key);
	if (s->daemon == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server%s",
		         tls ? " (is the TLS key the certificate's?)" : "");
		close(listen_fd);
		return -1;
	}
	return 0;
}

void srv_stop(struct srv *s)
{
	if (s == NULL)
		return;
	if (s->daemon != NULL) {
		int lfd = drain(s); /* stop accepting, finish what was asked */
		offload_drain(s);
		/* Commits end (or fail) within db_statement_timeout; each
		 * resumes its request, which MHD then answers. */
		atomic_store(&s->issues_closed, true);
		while (atomic_load(&s->issues_waiting) > 0)
			nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
		MHD_stop_daemon(s->daemon);
		if (lfd >= 0)
			close(lfd); /* quiesced: ours to close, after the stop */
	}
	srv_free(s);
}

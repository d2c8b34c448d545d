/*
 * loopback.c: who may use /_control/ (the admit check of its routes,
 * made before the method, the size or the body are looked at): a client
 * on this host, asking for this host by name (so a DNS-rebinding page
 * cannot), from no page or a page of this host. A request a trusted
 * proxy forwarded comes from afar, whatever its peer address. And what
 * a control request's parameters may come as (control_form): the second
 * half of the same guard, against pages that post across sites; and
 * what every control answer shares.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "testdouble_int.h"

/* A port after the host: ":" and 1 to 5 digits, nothing else. */
static bool port_ok(const char *p)
{
	if (*p == '\0')
		return true;
	size_t n = strspn(p + 1, "0123456789");
	return p[0] == ':' && n >= 1 && n <= 5 && p[1 + n] == '\0';
}

/* Only an IP literal of the loopback range, or the name localhost: a
 * prefix test would let "127.0.0.1.evil.example", a name an attacker's
 * DNS answers, through the rebinding guard. inet_pton takes exactly a
 * dotted quad (RFC 3986 section 3.2.2's IPv4address), and the address
 * in brackets exactly an IPv6 one. */
static bool loopback_host(const char *h, size_t n)
{
	char lit[INET6_ADDRSTRLEN + 2];
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if (n < 2 || n >= sizeof(lit))
		return false;
	if (h[0] == '[') {
		struct in6_addr a6;
		if (h[n - 1] != ']')
			return false;
		memcpy(lit, h + 1, n - 2);
		lit[n - 2] = '\0';
		return inet_pton(AF_INET6, lit, &a6) == 1 &&
		       IN6_IS_ADDR_LOOPBACK(&a6);
	}
	struct in_addr a4;
	memcpy(lit, h, n);
	lit[n] = '\0';
	return inet_pton(AF_INET, lit, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

/* A Host header or an Origin's authority, host[:port]: loopback? */
static bool loopback_authority(const char *a)
{
	size_t n;
	if (a[0] == '[') {
		const char *close = strchr(a, ']');
		if (close == NULL)
			return false;
		n = (size_t)(close - a) + 1;
	} else {
		n = strcspn(a, ":");
	}
	return port_ok(a + n) && loopback_host(a, n);
}

bool loopback(struct srv_req *rq)
{
	if (rq->forwarded) /* through a trusted proxy: from afar */
		return false;
	if (!(strcmp(rq->remote_addr, "::1") == 0 ||
	      strncmp(rq->remote_addr, "127.", 4) == 0 ||
	      strncmp(rq->remote_addr, "::ffff:127.", 11) == 0))
		return false;
	const char *host = req_header(rq, MHD_HTTP_HEADER_HOST);
	if (host == NULL || !loopback_authority(host))
		return false;
	const char *origin = req_header(rq, "Origin");
	const char *sep = origin ? strstr(origin, "://") : NULL;
	return origin == NULL || (sep != NULL && loopback_authority(sep + 3));
}

/* The form body of a POST (empty is fine), or the query of a GET. A POST
 * with a body must say it is a form: a web page can send text/plain to
 * 127.0.0.1 without a preflight, a form type only from a page of ours. */
bool control_form(struct srv_req *rq, struct form *f)
{
	if (strcmp(rq->method, "POST") == 0 && rq->body_len > 0 &&
	    !form_content_type(req_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return false;
	const char *s = strcmp(rq->method, "POST") == 0 ? rq->body : rq->query;
	size_t n = strcmp(rq->method, "POST") == 0 ? rq->body_len
	           : s != NULL                     ? strlen(s)
	                                           : 0;
	return form_parse(s ? s : "", n, 16, f) == FORM_OK &&
	       form_repeated(f) == NULL;
}

const struct hdr control_no_store[] = {{"Cache-Control", "no-store"},
                                       {NULL, NULL}};

enum MHD_Result control_bad(struct srv_req *rq, const char *why)
{
	return respond_error(rq, OAUTH_FAIL(OAUTH_INVALID_REQUEST, why),
	                     control_no_store);
}

/* clear=true, reset=true: only "true" means yes. */
bool control_flag(const char *v)
{
	return v != NULL && strcmp(v, "true") == 0;
}

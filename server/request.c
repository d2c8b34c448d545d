/*
 * request.c: what a handler asks of its request (headers, cookies,
 * whether the client is still there) and the suspension of a request a
 * layer holds without a worker (req_suspend). The request itself, its
 * memory and its life, belong to httpd.c; its states are in handler.h.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server_int.h"

const char *req_header(struct srv_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

struct header_count {
	const char *name;
	const char *first;
	int n;
};

static enum MHD_Result count_header(void *arg, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
	struct header_count *c = arg;
	(void)kind;
	if (strcasecmp(key, c->name) == 0 && c->n++ == 0)
		c->first = value;
	return MHD_YES;
}

const char *req_header_once(struct srv_req *rq, const char *name,
                            bool *repeated)
{
	struct header_count c = {.name = name};
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, count_header, &c);
	*repeated = c.n > 1;
	return c.first;
}

/* A peek that sees end of file: the client closed its side. Pipelined
 * bytes or nothing yet both mean it is still there. */
bool req_client_gone(void *arg)
{
	struct srv_req *rq = arg;
	char b;
	if (rq->fd < 0)
		return false;
	ssize_t n = recv(rq->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	                  errno != EINTR);
}

const char *req_cookie(struct srv_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

/* The state is set before the suspension: req_resume may come from
 * another thread before the handler that suspended has returned, and
 * MHD calls on_request again only after both. */
void req_suspend(struct srv_req *rq, handler_fn then)
{
	rq->resume = then;
	rq->state = REQ_SUSPENDED;
	MHD_suspend_connection(rq->conn);
}

void req_resume(struct srv_req *rq)
{
	MHD_resume_connection(rq->conn);
}

/* Nobody will resume it: the handler that suspended answers itself. */
void req_unsuspend(struct srv_req *rq)
{
	rq->state = REQ_ROUTED;
	rq->resume = NULL;
	MHD_resume_connection(rq->conn);
}

/*
 * server.h: the HTTP front of latchkeyd (libmicrohttpd). The only module
 * that includes microhttpd.h. It parses requests into the typed structs of
 * grants.h, calls grants, and renders JSON.
 */
#ifndef LK_SERVER_H
#define LK_SERVER_H

#include <stddef.h>

#include "config.h"
#include "grants.h"

/* Binds the listening socket before anything serves, so the real port (for
 * port 0) is known when the issuer is derived. Returns the fd, or -1. */
int srv_listen(const char *host, int port, int *bound_port, char *err,
               size_t errlen);

/* The issuer for a bound address when none is configured: http://HOST:PORT.
 * Caller frees. */
char *srv_default_issuer(const char *host, int port);

struct srv;

/* Starts serving on listen_fd (taken over). g and cfg must outlive the
 * server. Returns 0, or -1 with err set. */
int srv_start(const struct lk_config *cfg, struct grants *g, struct store *st,
              int listen_fd, const char *issuer, struct srv **out, char *err,
              size_t errlen);
/* Stops accepting, closes connections, joins the workers. */
void srv_stop(struct srv *s);

#endif

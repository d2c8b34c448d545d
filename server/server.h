/*
 * server.h: the HTTP front of latchkeyd (libmicrohttpd). The only module
 * that speaks HTTP (a layer around it, the test double, writes handlers
 * through handler.h). It parses requests into the typed structs of
 * grants.h, calls grants, and renders JSON.
 */
#ifndef LK_SERVER_H
#define LK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "grants.h"

/* Binds the listening socket before anything serves, so the real port (for
 * port 0) is known when the issuer is derived. Returns the fd, or -1. */
int srv_listen(const char *host, int port, int *bound_port, char *err,
               size_t errlen);

/* The issuer for a bound address when none is configured: http://HOST:PORT.
 * Caller frees. */
char *srv_default_issuer(const char *host, int port, bool https);

struct srv;

/* Builds the server (its route table from the path settings) without
 * serving yet, so that a layer (the test double) can add routes and wrap
 * handlers first (handler.h). g, st and cfg must outlive it. Returns 0, or
 * -1 with err set; srv_stop frees it, started or not. */
int srv_new(const struct lk_config *cfg, struct grants *g, struct store *st,
            const char *issuer, struct srv **out, char *err, size_t errlen);
/* Adds a tenant (docs/test-double.md, "Several issuers in one process"):
 * the issuer's endpoints again under prefix ("/realms/a"), for issuer,
 * over g and st (which must outlive s), with a clock of its own; before
 * the server starts and before a layer is installed. name is for
 * cookies and logs. -1 with err (a path taken, too many). */
int srv_add_site(struct srv *s, const char *name, const char *prefix,
                 const char *issuer, struct grants *g, struct store *st,
                 char *err, size_t errlen);
/* Starts serving on listen_fd (taken over: closed on failure too).
 * Returns 0, or -1 with err set. */
int srv_start(struct srv *s, int listen_fd, char *err, size_t errlen);

/* Stops accepting (connections already waiting in the backlog are still
 * served, newer ones refused), lets the requests under way finish within
 * a bound (drain.c), then closes the rest and joins the workers. */
void srv_stop(struct srv *s);

/* housekeeping.c: purges st (store_purge, and audit events older than
 * audit_retention seconds when > 0) every interval seconds (> 0) on a
 * thread of its own, the first time one interval after the start, and
 * calls tick (when not NULL) every second there. Returns the handle, or
 * NULL with err set. st and tick_arg must outlive it. */
struct housekeeping;
struct housekeeping *housekeeping_start(struct store *st, long interval,
                                        long audit_retention,
                                        void (*tick)(void *arg),
                                        void *tick_arg, char *err,
                                        size_t errlen);
/* Wakes the thread, lets a purge under way finish, joins the thread and
 * frees h. NULL is a no-op. */
void housekeeping_stop(struct housekeeping *h);

/* lifeline.c: stops latchkeyd (a SIGTERM to itself) when its standard
 * input reaches end of file (stdin_eof) or when its parent, parent (0:
 * not watched), has gone, from a thread of its own. NULL when neither is
 * asked, or on failure with err set (err[0] tells them apart). */
struct lifeline;
struct lifeline *lifeline_start(bool stdin_eof, pid_t parent, char *err,
                                size_t errlen);
/* Ends the thread and frees l. NULL is a no-op. */
void lifeline_stop(struct lifeline *l);

/* libmicrohttpd and jansson, as built and as running; with those of the
 * modules below, every library latchkeyd links (core/version.h). */
void srv_libs(struct version_libs *v);

#endif

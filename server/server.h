/*
 * server.h: the HTTP front of latchkeyd (libmicrohttpd). The only module
 * that includes microhttpd.h. It parses requests into the typed structs of
 * grants.h, calls grants, and renders JSON.
 */
#ifndef LK_SERVER_H
#define LK_SERVER_H

#include <stdbool.h>
#include <stddef.h>

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

/* Starts serving on listen_fd (taken over). g and cfg must outlive the
 * server. Returns 0, or -1 with err set. */
int srv_start(const struct lk_config *cfg, struct grants *g, struct store *st,
              int listen_fd, const char *issuer, struct srv **out, char *err,
              size_t errlen);
/* fixtures.c: applies the JSON fixtures file at path (docs/
 * configuration.md, "Fixtures"): its clients and users are added, or
 * replace the stored ones of the same client_id or username. Secrets and
 * passwords are hashed with one HMAC (fast_hash: for a throwaway test
 * database) or with Argon2id. The whole file is checked, and everything
 * hashed, before the first write. May be called again, from any thread.
 * Returns 0, or -1 with err naming the file, the entry and the field. */
int fixtures_apply(struct store *st, const char *path, bool fast_hash,
                   char *err, size_t errlen);

/* Stops accepting (connections already waiting in the backlog are still
 * served, newer ones refused), lets the requests under way finish within
 * a bound (drain.c), then closes the rest and joins the workers. */
void srv_stop(struct srv *s);

/* housekeeping.c: purges st (store_purge) every interval seconds (> 0) on
 * a thread of its own, the first time one interval after the start.
 * Returns the handle, or NULL with err set. st must outlive it. */
struct housekeeping;
struct housekeeping *housekeeping_start(struct store *st, long interval,
                                        char *err, size_t errlen);
/* Wakes the thread, lets a purge under way finish, joins the thread and
 * frees h. NULL is a no-op. */
void housekeeping_stop(struct housekeeping *h);

/* libmicrohttpd and jansson, as built and as running; with those of the
 * modules below, every library latchkeyd links (core/version.h). */
void srv_libs(struct version_libs *v);

#endif

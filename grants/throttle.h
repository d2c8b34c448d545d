/*
 * throttle.h: counting failed attempts at a secret (a password, a client
 * secret) per key, behind an interface a second backend can implement, as
 * SQLite's sqlite3_vfs is a struct of methods that each backend fills.
 *
 * An attempt is reserved BEFORE the secret is checked, and the
 * reservation counts against the limit like a failure until it ends:
 *
 *     reserve ──► check the secret ──► commit   (it failed: one failure)
 *                                  └─► release  (it succeeded, or no
 *                                                verdict: nothing counted)
 *
 * So "at most N secrets checked per key in a window" holds however many
 * requests arrive at once: the N+1st finds N reserved or failed and is
 * refused without a check. Every GO reservation ends in exactly one commit
 * or release.
 *
 * The memory backend (throttle.c) holds for one process. The store
 * backend (throttle_store.c, over store.h's throttle table: PostgreSQL)
 * implements the same methods so that the limit holds across instances:
 * a failure writes; a success that finds no failures on its keys need
 * only have read (the ticket then has id 0: nothing was written).
 *
 * Only grants/ uses this header (through grants_int.h).
 */
#ifndef LK_THROTTLE_H
#define LK_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THROTTLE_MAX_KEYS 4

struct store;

/* One key an attempt counts against, with its limits. */
struct throttle_key {
	const char *kind;  /* a namespace: "user", "addr", "client", "caddr" */
	const char *value; /* NULL: this key is skipped (no address known) */
	/* From this many failures in the window on, at most one check per
	 * key per second, and none while another is under way; 0: no
	 * slowdown. */
	int soft;
	/* At this many failures plus reservations under way, refused. */
	int hard;
	bool clear_on_success; /* a success forgets this key's failures */
};

enum throttle_verdict {
	THROTTLE_GO,          /* reserved: check, then commit or release */
	THROTTLE_SLOWED,      /* past soft: another check ran this second */
	THROTTLE_REFUSED,     /* at hard, until the window ends */
	THROTTLE_UNAVAILABLE, /* the backend cannot answer (a database) */
};

/* One reservation, on the caller's stack. keys are borrowed until the
 * commit or release. */
struct throttle_ticket {
	const struct throttle_key *keys;
	size_t n;
	int stopped_by; /* the key that refused or slowed, or -1 */
	bool had_failures[THROTTLE_MAX_KEYS];
	/* The backend's handle of each key (the memory backend: its keyed
	 * hash), so that commit and release need not derive it again. */
	unsigned char handle[THROTTLE_MAX_KEYS][16];
	bool live; /* GO was returned and nothing has ended it yet */
	int64_t id; /* the store backend's reservation; 0: none written */
};

struct throttle;

struct throttle_ops {
	int version;      /* 1; later methods are added at the end */
	const char *name; /* "memory" */
	/* All keys or none: GO reserves one attempt on every key with a
	 * value; any other verdict reserves nothing. */
	enum throttle_verdict (*reserve)(struct throttle *t,
	                                 const struct throttle_key *keys,
	                                 size_t n, struct throttle_ticket *tk);
	/* The attempt failed: its reservation becomes a failure on every
	 * key, starting the key's window if none is running. */
	void (*commit)(struct throttle *t, struct throttle_ticket *tk);
	/* The reservation ends uncounted. succeeded: the secret was right,
	 * so keys marked clear_on_success forget their failures. */
	void (*release)(struct throttle *t, struct throttle_ticket *tk,
	                bool succeeded);
	/* Forgets every count (the test double's reset). */
	void (*forget_all)(struct throttle *t);
	void (*destroy)(struct throttle *t);
	/* Version 2. Whether no key with a value has a failure counted in
	 * its live window or a reservation under way, reading only (false
	 * also when the backend cannot answer). */
	bool (*clean)(struct throttle *t, const struct throttle_key *keys,
	              size_t n);
};

/* Each backend's struct starts with this (as sqlite3_file). */
struct throttle {
	const struct throttle_ops *ops;
	int64_t window; /* seconds a failure counts, from a key's first */
};

/* The in-process backend: a fixed table, so memory is bounded whatever
 * an attacker sends. NULL when no randomness is available for its key.
 * Free with throttle_free. */
struct throttle *throttle_memory_new(int64_t window_secs);

/* The backend over the store's throttle table (store_has_throttle), so
 * that every instance on one database counts the same failures. A
 * reservation whose process dies stops counting pending_ttl seconds after
 * it was made; NULL when pending_ttl is not positive (the caller derives
 * it from the settings, there is no default here). s is borrowed for the
 * throttle's life. Free with throttle_free. */
struct throttle *throttle_store_new(struct store *s, int64_t window_secs,
                                    int64_t pending_ttl);

/* Callers go through these, never through ops. A NULL ticket or a ticket
 * that is not live is a no-op for commit and release. */
enum throttle_verdict throttle_reserve(struct throttle *t,
                                       const struct throttle_key *keys,
                                       size_t n, struct throttle_ticket *tk);
void throttle_commit(struct throttle *t, struct throttle_ticket *tk);
void throttle_release(struct throttle *t, struct throttle_ticket *tk,
                      bool succeeded);
void throttle_forget_all(struct throttle *t);
/* For an attempt whose secret cannot be guessed (client_auth.c: a
 * generated client secret) and turns out right: true when it may go
 * ahead with nothing reserved and nothing written, because no key has a
 * failure to clear, an attempt under way, or a limit that refuses the
 * right secret too. False: take the attempt through throttle_reserve
 * like any other. So a busy client's concurrent requests cost one read
 * each, never a write, while a key under attack keeps refusing every
 * attempt, the right secret included. */
bool throttle_clean(struct throttle *t, const struct throttle_key *keys,
                    size_t n);
void throttle_free(struct throttle *t); /* NULL: no-op */

#endif

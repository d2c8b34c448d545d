/*
 * pg_commit.c: group commit, the PostgreSQL backend's token-table xIssue
 * (map: pg_int.h).
 *
 * Every token response waits for its record's commit, and on PostgreSQL a
 * commit is a WAL flush (an fsync) plus a round trip. PostgreSQL's own
 * group commit shares a flush only between transactions that reach it at
 * the same instant, which a few worker threads rarely do (docs/scale-out.md
 * measured about one fsync per write transaction). So, as sqlite_commit.c
 * does on SQLite: issues queue, and the writer thread (commit_queue.c)
 * sends everything queued as one transaction (pg_batch_group: each issue
 * in a savepoint of its own, so a lost compare-and-set undoes that issue
 * only), then completes each with its own result. Nobody is answered
 * before the COMMIT that holds its record succeeded. An issue that finds
 * the queue empty goes alone: one pipelined batch in an implicit
 * transaction (pg_batch), one round trip, and no waiting added.
 *
 * The completion: done runs on the writer thread once the result is
 * known, after pg_issue has returned (store.h, xIssue). What an issue
 * writes is pg_tokens.c's (pg_issue_items); this file only queues;
 * pg_conn.c runs the statements.
 */
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "strutil.h"

struct pg_gc_item {
	struct cq_item link; /* first: commit_queue.h */
	struct pg_batch_item items[PG_ISSUE_ITEMS];
	int nitems;
};

static struct pg_gc_item *next_of(const struct pg_gc_item *it)
{
	return (struct pg_gc_item *)it->link.next;
}

/* Bounds how many issues wait for one commit, and so how long one
 * transaction holds the rows it locked. */
#define GC_MAX_BATCH 64

static void gc_commit(void *ctx, struct cq_item *first);

void pg_gc_init(struct pg_store *s)
{
	cq_init(&s->gc, GC_MAX_BATCH, gc_commit, s);
}

void pg_gc_destroy(struct pg_store *s)
{
	cq_destroy(&s->gc);
}

/* Runs a batch, alone or as a group; sets each item's rc (cq_commit_fn). */
static void gc_commit(void *ctx, struct cq_item *first)
{
	struct pg_store *s = ctx;
	struct pg_gc_item *batch = (struct pg_gc_item *)first;
	if (next_of(batch) == NULL) {
		batch->link.rc = pg_batch(&s->base, batch->items, batch->nitems);
		return;
	}
	struct pg_segment segs[GC_MAX_BATCH];
	int n = 0;
	for (struct pg_gc_item *it = batch; it; it = next_of(it))
		segs[n++] = (struct pg_segment){it->items, it->nitems, STORE_IO};
	pg_batch_group(&s->base, segs, n);
	n = 0;
	for (struct pg_gc_item *it = batch; it; it = next_of(it))
		it->link.rc = segs[n++].rc;
}

/* The token table's xIssue: queues is for the writer thread. */
void pg_issue(struct store *base, const struct store_issue *is,
              store_issue_done done, void *arg)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pg_gc_item *it = xcalloc(1, sizeof(*it));
	/* Bound here, on the submitter's thread: the writer only sends. */
	it->nitems = pg_issue_items(is, it->items);
	it->link.rc = STORE_IO;
	it->link.done = done;
	it->link.arg = arg;
	cq_submit(&s->gc, &it->link);
}

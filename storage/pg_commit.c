/*
 * pg_commit.c: group commit, the PostgreSQL backend's token-table xIssue
 * (map: pg_int.h).
 *
 * Every token response waits for its record's commit, and on PostgreSQL a
 * commit is a WAL flush (an fsync) plus a round trip. PostgreSQL's own
 * group commit shares a flush only between transactions that reach it at
 * the same instant, which a few worker threads rarely do (docs/scale-out.md
 * measured about one fsync per write transaction). So, as sqlite_commit.c
 * does on SQLite: issues that arrive while a commit is under way queue,
 * and the next commit takes all of them. The first thread to find no
 * commit running becomes the leader, sends the queue as one transaction
 * (pg_batch_group: each issue in a savepoint of its own, so a lost
 * compare-and-set undoes that issue only), and wakes the others with their
 * own results. Nobody is answered before the COMMIT that holds its record
 * succeeded. An issue that finds the queue empty goes alone, as before:
 * one pipelined batch in an implicit transaction (pg_batch), one round
 * trip, and no waiting added.
 *
 * The completion: each submitter's done runs on its own thread once its
 * result is known, before pg_issue returns (store.h, xIssue). What an
 * issue writes is pg_tokens.c's (pg_issue_items); this file only queues;
 * pg_conn.c runs the statements.
 */
#include <string.h>

#include "pg_int.h"

struct pg_gc_item {
	struct cq_item link; /* first: commit_queue.h */
	struct pg_batch_item items[PG_ISSUE_ITEMS];
	int nitems;
	enum store_rc rc;
};

static struct pg_gc_item *next_of(const struct pg_gc_item *it)
{
	return (struct pg_gc_item *)it->link.next;
}

/* Bounds how many issues wait for one commit, and so how long one
 * transaction holds the rows it locked; a process has a few worker
 * threads (4 by default), so batches are far smaller in practice. */
#define GC_MAX_BATCH 32

void pg_gc_init(struct pg_store *s)
{
	cq_init(&s->gc);
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
		batch->rc = pg_batch(&s->base, batch->items, batch->nitems);
		return;
	}
	struct pg_segment segs[GC_MAX_BATCH];
	int n = 0;
	for (struct pg_gc_item *it = batch; it; it = next_of(it))
		segs[n++] = (struct pg_segment){it->items, it->nitems, STORE_IO};
	pg_batch_group(&s->base, segs, n);
	n = 0;
	for (struct pg_gc_item *it = batch; it; it = next_of(it))
		it->rc = segs[n++].rc;
}

/* The token table's xIssue: queues is, commits it (leading a batch or
 * waiting for the leader's), then completes it on this thread. */
void pg_issue(struct store *base, const struct store_issue *is,
              store_issue_done done, void *arg)
{
	struct pg_store *s = (struct pg_store *)base;
	struct pg_gc_item me;
	memset(&me, 0, sizeof(me));
	/* Bound here, on the submitter's thread: the leader only sends. */
	me.nitems = pg_issue_items(is, me.items);
	me.rc = STORE_IO;

	cq_run(&s->gc, &me.link, GC_MAX_BATCH, gc_commit, s);
	done(me.rc, arg);
}

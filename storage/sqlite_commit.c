/*
 * sqlite_commit.c: group commit, the SQLite backend's token-table xIssue.
 *
 * Every token response waits for its record's commit, and a commit costs
 * far more than the rows in it (a transaction's locks and the WAL frames
 * of the pages it touched: about 20 system calls here). So issues
 * queue, and the writer thread (commit_queue.c) commits everything queued
 * in one transaction, each issue in a savepoint of its own (a lost
 * compare-and-set undoes that issue only), and completes each with its own
 * result. Nobody is answered before the commit that holds its record. The
 * writer uses the writer connection, which only ever runs under write_mu:
 * its page cache stays warm, where each thread's own connection would
 * re-read what the others wrote.
 *
 * The completion: done runs on the writer thread once the commit that
 * holds the issue is over, after sq_issue has returned (store.h, xIssue).
 * What an issue writes is sqlite_issue.c's (sq_issue_writes); this file
 * only batches and commits.
 */
#include <pthread.h>
#include <stdlib.h>

#include "strutil.h"
#include "sqlite_int.h"

struct gc_item {
	struct cq_item link; /* first: commit_queue.h */
	const struct store_issue *is;
};

static struct gc_item *next_of(const struct gc_item *it)
{
	return (struct gc_item *)it->link.next;
}

#define GC_MAX_BATCH 64 /* bounds how long one commit holds write_mu */

/* sq_begin() on the writer connection, opened on first use. */
static struct conn *wbegin(struct sq_store *s, enum store_rc *r)
{
	pthread_mutex_lock(&s->write_mu);
	if (s->wconn != NULL && sq_conn_stale(s->wconn)) {
		sq_conn_unlink(s, s->wconn);
		sq_conn_close(s->wconn);
		s->wconn = NULL;
	}
	if (s->wconn == NULL)
		s->wconn = sq_conn_new(s, NULL, 0);
	struct conn *cn = s->wconn;
	*r = cn == NULL ? STORE_IO
	                : sq_write_rc(cn->db, sqlite3_exec(cn->db,
	                                                   "BEGIN IMMEDIATE",
	                                                   NULL, NULL, NULL));
	if (*r != STORE_OK) {
		pthread_mutex_unlock(&s->write_mu);
		return NULL;
	}
	return cn;
}

static enum store_rc run_sql(struct conn *cn, enum stmt which)
{
	sqlite3_stmt *st = sq_stmt(cn, which);
	return st ? sq_exec(cn, st, NULL) : STORE_IO;
}

/* Runs a batch in one transaction; sets each item's rc (cq_commit_fn). */
static void gc_commit(void *ctx, struct cq_item *first)
{
	struct sq_store *s = ctx;
	struct gc_item *batch = (struct gc_item *)first;
	enum store_rc r;
	struct conn *cn = wbegin(s, &r);
	if (cn == NULL) {
		for (struct gc_item *it = batch; it; it = next_of(it))
			it->link.rc = r;
		return;
	}
	if (next_of(batch) == NULL) { /* alone: no savepoint needed */
		batch->link.rc = sq_finish(cn, sq_issue_writes(cn, batch->is));
		return;
	}
	enum store_rc fatal = STORE_OK;
	for (struct gc_item *it = batch; it; it = next_of(it)) {
		if (fatal != STORE_OK) {
			it->link.rc = fatal;
			continue;
		}
		it->link.rc = run_sql(cn, ST_GC_SAVEPOINT);
		if (it->link.rc == STORE_OK)
			it->link.rc = sq_issue_writes(cn, it->is);
		if (it->link.rc != STORE_OK && !sqlite3_get_autocommit(cn->db) &&
		    run_sql(cn, ST_GC_ROLLBACK_TO) != STORE_OK)
			fatal = it->link.rc;
		/* An I/O error can roll the whole transaction back: then
		 * nothing of the batch stands. */
		if (sqlite3_get_autocommit(cn->db) ||
		    run_sql(cn, ST_GC_RELEASE) != STORE_OK)
			fatal = it->link.rc != STORE_OK ? it->link.rc : STORE_IO;
	}
	if (fatal == STORE_OK)
		fatal = sq_finish(cn, STORE_OK);
	else
		(void)sq_finish(cn, fatal);
	/* Nothing of the batch stands, so no result of it may either: a
	 * lost compare-and-set may have lost to an issue now rolled back. */
	if (fatal != STORE_OK)
		for (struct gc_item *it = batch; it; it = next_of(it))
			it->link.rc = fatal;
}

void sq_gc_init(struct sq_store *s)
{
	cq_init(&s->gc, GC_MAX_BATCH, gc_commit, s);
}

/* The token table's xIssue: queues is for the writer thread. */
void sq_issue(struct store *base, const struct store_issue *is,
              store_issue_done done, void *arg)
{
	struct sq_store *s = (struct sq_store *)base;
	struct gc_item *it = xcalloc(1, sizeof(*it));
	*it = (struct gc_item){.link = {.rc = STORE_IO, .done = done,
	                                .arg = arg},
	                       .is = is};
	cq_submit(&s->gc, &it->link);
}

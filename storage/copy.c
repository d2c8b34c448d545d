/*
 * copy.c: `latchkey copy`'s half inside storage/: store_copy, which
 * drives one backend's read snapshot into another's write transaction
 * through the copy table of struct store_ops, table by table in the order
 * of the catalogue (copy_catalog.c), checking the schemas first and the
 * counts after.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* ---- the copy ------------------------------------------------------------ */

struct pump {
	const struct store_copy_methods *m;
	struct store_copy *dst;
	enum store_rc rc;
	int64_t rows;
};

static int pump_row(const struct store_value *row, void *arg)
{
	struct pump *p = arg;
	p->rc = p->m->xWriteRow(p->dst, row);
	if (p->rc != STORE_OK)
		return 1;
	p->rows++;
	return 0;
}

/* Moves table t and checks its counts; err names what went wrong. */
static enum store_rc copy_table(struct store *from, struct store_copy *src,
                                struct store *to, struct store_copy *dst,
                                const struct store_copy_table *t,
                                int64_t *count, char *err, size_t errlen)
{
	int64_t in_src = 0, in_dst = 0;
	struct pump p = {to->ops->copy, dst, STORE_OK, 0};
	enum store_rc r = from->ops->copy->xCount(src, t, &in_src);
	if (r != STORE_OK) {
		snprintf(err, errlen, "counting %s in the source: %s", t->name,
		         store_rc_str(r));
		return r;
	}
	r = p.m->xWriteStart(dst, t);
	if (r == STORE_OK)
		r = from->ops->copy->xRead(src, t, pump_row, &p);
	if (r == STORE_OK)
		r = p.rc;
	if (r == STORE_OK)
		r = p.m->xWriteEnd(dst);
	if (r != STORE_OK) {
		/* Which side failed says itself in its why. */
		const char *why = dst->why[0] ? dst->why : src->why;
		snprintf(err, errlen, "copying %s (after %" PRId64 " of %" PRId64
		         " rows): %s%s%s", t->name, p.rows, in_src,
		         store_rc_str(r), why[0] ? ": " : "", why);
		return r;
	}
	r = p.m->xCount(dst, t, &in_dst);
	if (r == STORE_OK && (in_dst != in_src || p.rows != in_src)) {
		snprintf(err, errlen, "%s: the source has %" PRId64 " rows, %"
		         PRId64 " were read and the destination has %" PRId64,
		         t->name, in_src, p.rows, in_dst);
		return STORE_IO;
	}
	*count = in_dst;
	return r;
}

/* STORE_OK when s is at this binary's schema version; else err says
 * what to do. */
static enum store_rc check_schema(struct store *s, const char *side,
                                  char *err, size_t errlen)
{
	int db = 0, binary = 0;
	enum store_rc r = store_schema_version(s, &db, &binary);
	if (r != STORE_OK) {
		snprintf(err, errlen, "reading the %s's schema version: %s", side,
		         store_rc_str(r));
		return r;
	}
	if (db > binary) {
		snprintf(err, errlen, "the %s has schema version %d, newer than "
		         "this Latchkey's %d: copy with the newer Latchkey", side,
		         db, binary);
		return STORE_SCHEMA_NEWER;
	}
	if (db < binary) {
		snprintf(err, errlen, "the %s has schema version %d, older than "
		         "this Latchkey's %d: run 'latchkey --db %s migrate' "
		         "first", side, db, binary,
		         strcmp(side, "source") == 0 ? "SOURCE" : "DEST");
		return STORE_INVALID;
	}
	return STORE_OK;
}

/* The destination must hold nothing the copy would write. */
static enum store_rc check_empty(struct store *to, struct store_copy *dst,
                                 char *err, size_t errlen)
{
	for (size_t i = 0; i < store_copy_ntables; i++) {
		int64_t n = 0;
		const struct store_copy_table *t = &store_copy_tables[i];
		enum store_rc r = to->ops->copy->xCount(dst, t, &n);
		if (r != STORE_OK) {
			snprintf(err, errlen, "counting %s in the destination: "
			         "%s", t->name, store_rc_str(r));
			return r;
		}
		if (n > 0) {
			snprintf(err, errlen, "the destination is not empty: %s "
			         "has %" PRId64 " row(s); copy only into a new "
			         "database", t->name, n);
			return STORE_CONFLICT;
		}
	}
	return STORE_OK;
}

enum store_rc store_copy(struct store *from, struct store *to,
                         int64_t *counts, char *err, size_t errlen)
{
	struct store_copy *src = NULL, *dst = NULL;
	char why[256] = "";
	memset(counts, 0, store_copy_ntables * sizeof(*counts));
	if (from->ops->copy == NULL || to->ops->copy == NULL) {
		snprintf(err, errlen, "the %s backend cannot copy",
		         from->ops->copy == NULL ? from->ops->name
		                                 : to->ops->name);
		return STORE_INVALID;
	}
	enum store_rc r = check_schema(from, "source", err, errlen);
	if (r == STORE_OK)
		r = check_schema(to, "destination", err, errlen);
	if (r != STORE_OK)
		return r;
	r = from->ops->copy->xBegin(from, false, &src, why, sizeof(why));
	if (r != STORE_OK) {
		snprintf(err, errlen, "reading the source: %s",
		         why[0] ? why : store_rc_str(r));
		return r;
	}
	r = to->ops->copy->xBegin(to, true, &dst, why, sizeof(why));
	if (r != STORE_OK) {
		snprintf(err, errlen, "writing the destination: %s",
		         why[0] ? why : store_rc_str(r));
		from->ops->copy->xEnd(src, false, NULL, 0);
		return r;
	}
	r = check_empty(to, dst, err, errlen);
	for (size_t i = 0; r == STORE_OK && i < store_copy_ntables; i++)
		r = copy_table(from, src, to, dst, &store_copy_tables[i],
		               &counts[i], err, errlen);
	from->ops->copy->xEnd(src, false, NULL, 0);
	enum store_rc end = to->ops->copy->xEnd(dst, r == STORE_OK, why,
	                                        sizeof(why));
	if (r == STORE_OK && end != STORE_OK) {
		snprintf(err, errlen, "committing the destination: %s",
		         why[0] ? why : store_rc_str(end));
		r = end;
	}
	return r;
}

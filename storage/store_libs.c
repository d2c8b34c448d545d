/*
 * store_libs.c: the database libraries storage links, for --version
 * (core/version.h). libpq's header carries no version string, so the
 * compile-time one comes from pkg-config (CMakeLists.txt).
 */
#include "store.h"
#include "version.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>

void store_libs(struct version_libs *v)
{
	version_add(v, "SQLite", SQLITE_VERSION, sqlite3_libversion());
	/* PQlibVersion: major * 10000 + minor since PostgreSQL 10. */
	int pq = PQlibVersion();
	char *running = version_buf(v);
	snprintf(running, sizeof(v->buf[0]), "%d.%d", pq / 10000, pq % 10000);
	version_add(v, "libpq", LK_PQ_VERSION, running);
}

/*
 * backup_sqlite.c: the SQLite side of store_backup (store.h): an online
 * copy of the database through SQLite's backup API, into a file of its
 * own.
 *
 * Owns the copy's file from its creation to its final name. The copy is
 * written aside (DEST.partial-XXXXXX, mode 0600), checked with PRAGMA
 * integrity_check, synced, and only then named DEST, so a DEST that exists
 * is a whole, checked backup and a failure leaves only what was there.
 * The source connection is lent by sqlite_upkeep.c for the call.
 *
 * Consistency: the source is held in one read transaction for the whole
 * copy. In WAL mode that is a snapshot: writers (the server, the CLI) go
 * on committing to the WAL meanwhile, and the copy is the database as it
 * was when the copy began. Without it, the backup API would start over
 * whenever another connection committed between two steps, which under a
 * steady stream of token requests could be forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "strutil.h"

/* Pages per backup step: 1 MiB at the default page size, so the copy
 * advances in bounded steps and a busy answer costs little to repeat. */
#define STEP_PAGES 256
/* Waiting on a locked source or destination: how long between tries, and
 * for how long in all before giving up. */
#define BUSY_SLEEP_MS 20
#define BUSY_GIVE_UP_MS 30000

/* ---- paths -------------------------------------------------------------- */

/* The directory part of path ("." for a bare name), into buf. */
static void dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* Whether dest names the database file or one of its companions (-wal,
 * -shm, -journal): replacing one of those under a running server would
 * wreck the database, not back it up. Compared with symlinks in the
 * directories resolved; dest itself need not exist. */
static bool names_the_database(const char *dest, const char *db)
{
	char dir[PATH_MAX], real_dir[PATH_MAX], real_db[PATH_MAX];
	char canon[2 * PATH_MAX];
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	const char *slash = strrchr(dest, '/');

	dir_of(dest, dir, sizeof(dir));
	if (db == NULL || db[0] == '\0' || realpath(dir, real_dir) == NULL ||
	    realpath(db, real_db) == NULL)
		return false;
	snprintf(canon, sizeof(canon), "%s/%s",
	         strcmp(real_dir, "/") == 0 ? "" : real_dir,
	         slash ? slash + 1 : dest);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char name[PATH_MAX + 16];
		snprintf(name, sizeof(name), "%s%s", real_db, suffixes[i]);
		if (strcmp(canon, name) == 0)
			return true;
	}
	return false;
}

/* Refuses a dest that must not be written; STORE_OK when it may be. */
static enum store_rc check_dest(const char *dest, const char *db,
                                bool replace, char *err, size_t errlen)
{
	struct stat st;
	if (dest[0] == '\0') {
		snprintf(err, errlen, "the backup file name is empty");
		return STORE_INVALID;
	}
	if (names_the_database(dest, db)) {
		snprintf(err, errlen, "'%.200s' is the database itself (or its "
		         "-wal, -shm or -journal file)", dest);
		return STORE_INVALID;
	}
	if (lstat(dest, &st) != 0)
		return STORE_OK;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%.200s' exists and is not a regular file",
		         dest);
		return STORE_INVALID;
	}
	if (!replace) {
		snprintf(err, errlen, "'%.200s' already exists", dest);
		return STORE_CONFLICT;
	}
	return STORE_OK;
}

/* A new, empty file DEST.partial-XXXXXX of mode 0600 (an empty file is an
 * empty SQLite database). Caller frees the name and unlinks the file. */
static char *make_partial(const char *dest, char *err, size_t errlen)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.partial-XXXXXX", dest) < 0)
		abort();
	int fd = mkstemp(tmp);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		snprintf(err, errlen, "cannot create '%.200s': %s", tmp,
		         strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return NULL;
	}
	close(fd);
	return tmp;
}

/* fsync of a file or directory by name; 0, or -1 with errno. */
static int sync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Gives the finished copy tmp its name dest: link(2) when nothing may be
 * replaced, so a dest made meanwhile is not clobbered; rename(2) when it
 * may. Then syncs the directory, so the name survives a crash too. */
static enum store_rc place(const char *tmp, const char *dest, bool replace,
                           char *err, size_t errlen)
{
	char dir[PATH_MAX];
	if (replace ? rename(tmp, dest) != 0 : link(tmp, dest) != 0) {
		int e = errno;
		snprintf(err, errlen, e == EEXIST ? "'%.200s' already exists"
		                                  : "cannot name the copy "
		                                    "'%.200s': %s",
		         dest, strerror(e));
		return e == EEXIST ? STORE_CONFLICT : STORE_IO;
	}
	if (!replace)
		unlink(tmp);
	dir_of(dest, dir, sizeof(dir));
	if (sync_path(dir, true) != 0) {
		snprintf(err, errlen, "cannot sync the directory of '%.200s': %s",
		         dest, strerror(errno));
		return STORE_IO;
	}
	return STORE_OK;
}

/* ---- the copy ----------------------------------------------------------- */

/* The first column of the first row of a one-row statement, into buf. */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	buf[0] = '\0';
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", t ? (const char *)t : "");
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		if (rc != SQLITE_OK) /* more rows: integrity_check found more */
			snprintf(buf + strlen(buf), len - strlen(buf), " (and more)");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Copies src into the database dst in steps, retrying a locked step. */
static enum store_rc copy_pages(sqlite3 *src, sqlite3 *dst, int64_t *pages,
                                char *err, size_t errlen)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int waited = 0, rc;
	if (b == NULL) {
		snprintf(err, errlen, "cannot start the backup: %s",
		         sqlite3_errmsg(dst));
		return store_sqlite_rc(sqlite3_errcode(dst));
	}
	for (;;) {
		rc = sqlite3_backup_step(b, STEP_PAGES);
		if (rc == SQLITE_OK)
			continue;
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
		    waited < BUSY_GIVE_UP_MS) {
			sqlite3_sleep(BUSY_SLEEP_MS);
			waited += BUSY_SLEEP_MS;
			continue;
		}
		break;
	}
	*pages = sqlite3_backup_pagecount(b);
	int fin = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = fin;
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		snprintf(err, errlen, "backup failed: %s%s", sqlite3_errstr(rc),
		         rc == SQLITE_BUSY || rc == SQLITE_LOCKED
		             ? " (the database stayed locked for 30 s)" : "");
		return store_sqlite_rc(rc);
	}
	return STORE_OK;
}

/* After the copy: a rollback-journal file, so the backup is one file (the
 * pages came from a WAL database and say so), and a full check of it. */
static enum store_rc finish_copy(sqlite3 *dst, char *err, size_t errlen)
{
	char got[256];
	if (query_text(dst, "PRAGMA journal_mode=DELETE", got,
	               sizeof(got)) != SQLITE_OK ||
	    strcmp(got, "delete") != 0) {
		snprintf(err, errlen, "cannot make the copy a single file: %s",
		         got[0] ? got : sqlite3_errmsg(dst));
		return STORE_IO;
	}
	if (query_text(dst, "PRAGMA integrity_check", got, sizeof(got)) !=
	        SQLITE_OK ||
	    strcmp(got, "ok") != 0) {
		snprintf(err, errlen, "the copy failed its integrity check: %s",
		         got[0] ? got : sqlite3_errmsg(dst));
		return STORE_IO;
	}
	return STORE_OK;
}

/* Copies src to the file tmp (which exists, empty) and checks it. */
static enum store_rc copy_to(sqlite3 *src, const char *tmp, int64_t *pages,
                             char *err, size_t errlen)
{
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open '%.200s': %s", tmp,
		         dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		sqlite3_close_v2(dst);
		return STORE_IO;
	}
	sqlite3_busy_timeout(dst, BUSY_GIVE_UP_MS);
	/* The snapshot: a read transaction held until the copy is done. */
	rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema",
	                  NULL, NULL, NULL);
	enum store_rc r = store_sqlite_rc(rc);
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "cannot read the database: %s",
		         sqlite3_errmsg(src));
	else
		r = copy_pages(src, dst, pages, err, errlen);
	if (sqlite3_get_autocommit(src) == 0)
		sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL); /* read only */
	if (r == STORE_OK)
		r = finish_copy(dst, err, errlen);
	if (sqlite3_close(dst) != SQLITE_OK && r == STORE_OK) {
		snprintf(err, errlen, "cannot close the copy");
		r = STORE_IO;
	}
	if (r == STORE_OK && sync_path(tmp, false) != 0) {
		snprintf(err, errlen, "cannot sync '%.200s': %s", tmp,
		         strerror(errno));
		r = STORE_IO;
	}
	return r;
}

enum store_rc store_sqlite_backup(sqlite3 *src, const char *dest,
                                  bool replace, struct store_backup_info *out,
                                  char *err, size_t errlen)
{
	struct stat st;
	enum store_rc r = check_dest(dest, sqlite3_db_filename(src, "main"),
	                             replace, err, errlen);
	if (r != STORE_OK)
		return r;
	char *tmp = make_partial(dest, err, errlen);
	if (tmp == NULL)
		return STORE_IO;
	r = copy_to(src, tmp, &out->pages, err, errlen);
	if (r == STORE_OK && stat(tmp, &st) == 0)
		out->bytes = st.st_size;
	if (r == STORE_OK)
		r = place(tmp, dest, replace, err, errlen);
	if (r != STORE_OK) {
		/* The journal a failed copy may have left, then the copy. */
		char journal[PATH_MAX + 16];
		snprintf(journal, sizeof(journal), "%s-journal", tmp);
		unlink(journal);
		unlink(tmp);
	}
	free(tmp);
	return r;
}

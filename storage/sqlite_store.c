/*
 * sqlite_store.c: the SQLite backend as a whole: opening the file (created
 * 0600), closing the store with every connection it made, migrations, and
 * the ops table that points at each entity's method table (sqlite_int.h
 * lists the files that own them).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"
#include "sqlite_int.h"
#include "strutil.h"

static void no_memstatus(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void sq_close(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	cq_destroy(&s->gc); /* first: its writer uses the connections */
	pthread_mutex_lock(&s->mu);
	struct conn *c = s->conns;
	s->conns = NULL;
	pthread_mutex_unlock(&s->mu);
	while (c != NULL) {
		struct conn *next = c->next;
		sq_conn_close(c);
		c = next;
	}
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	free(s->path);
	free(s);
}

static enum store_rc sq_migrate(struct store *base, int *applied, int *schema,
                                char *err, size_t errlen)
{
	struct conn *c = sq_conn_get(base);
	if (c == NULL) {
		snprintf(err, errlen, "cannot open database");
		return STORE_INVALID;
	}
	return migrate_sqlite(c->db, applied, schema, err, errlen);
}

static enum store_rc sq_schema_version(struct store *base, int *db, int *binary)
{
	struct conn *c = sq_conn_get(base);
	*binary = migrate_latest();
	return c ? migrate_sqlite_version(c->db, db) : STORE_INVALID;
}

static const struct store_db_methods sq_db_methods = {
	.xClose = sq_close,
	.xMigrate = sq_migrate,
	.xSchemaVersion = sq_schema_version,
	.xThreadEnd = sq_thread_end,
};

static const struct store_ops sqlite_ops = {
	.version = STORE_OPS_VERSION,
	.name = "sqlite",
	.db = &sq_db_methods,
	.client = &sq_client_methods,
	.user = &sq_user_methods,
	.key = &sq_key_methods,
	.token = &sq_token_methods,
	.refresh = &sq_refresh_methods,
	.code = &sq_code_methods,
	.session = &sq_session_methods,
	.audit = &sq_audit_methods,
	.issuer = &sq_issuer_methods,
	.resource = &sq_resource_methods,
	.consent = &sq_consent_methods,
	.upkeep = &sq_upkeep_methods,
	.test = &sq_test_methods,
	.copy = &sq_copy_methods,
};

static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open database '%.200s': %s", path,
		         strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

enum store_rc store_sqlite_open(const char *path,
                                const struct store_options *o,
                                struct store **out, char *err, size_t errlen)
{
	if (path[0] == '\0') {
		snprintf(err, errlen, "database path is empty");
		return STORE_INVALID;
	}
	if (create_private(path, err, errlen) != 0)
		return STORE_INVALID;
	/* SQLite's memory statistics take a process-wide mutex around every
	 * allocation, which all worker threads then queue on. It only works
	 * before SQLite initialises, so this is best effort. */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, no_memstatus);
	struct sq_store *s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->path = xstrdup(path);
	s->durability = o->durability;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	sq_gc_init(s);
	if (pthread_key_create(&s->key, sq_conn_destructor) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		pthread_mutex_destroy(&s->mu);
		pthread_mutex_destroy(&s->write_mu);
		cq_destroy(&s->gc);
		free(s->path);
		free(s);
		return STORE_IO;
	}
	struct conn *c = sq_conn_open(s, err, errlen);
	if (c == NULL) {
		sq_close(&s->base);
		return STORE_INVALID;
	}
	/* WAL is a property of the file: set it once, here. */
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sq_close(&s->base);
		return store_sqlite_rc(rc);
	}
	*out = &s->base;
	return STORE_OK;
}

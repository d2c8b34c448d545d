/*
 * main.c: latchkeyd. Reads settings, opens and migrates the store, binds,
 * loads the signing key, serves until SIGINT or SIGTERM, then tears down
 * in reverse order. Prints one JSON "ready" line on stdout once requests
 * can be served, so a harness can wait for it instead of polling.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fileperm.h"
#include "grants.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "strutil.h"
#include "admin_api.h"
#include "tenants.h"
#include "testdouble.h"
#include "version.h"

/* The ready line, on stdout and, if asked, in a file. The file appears
 * whole (written aside, then renamed), so a harness that sees it can read
 * it at once. Returns 0, or -1 if the file could not be written. */
static int announce_ready(const char *issuer, const char *host, int port,
                          int admin_port, const char *db, json_t *tenants,
                          const char *ready_file)
{
	/* db: where the CLI finds this server's database (--db), as it may
	 * be shown (a PostgreSQL URI without its password). */
	json_t *o = json_pack("{s:b, s:s, s:I, s:s, s:i, s:s}", "ready", 1,
	                      "issuer", issuer, "pid", (json_int_t)getpid(),
	                      "host", host, "port", port, "db", db);
	if (o != NULL && admin_port > 0) /* admin_listen: the admin API */
		json_object_set_new(o, "admin_port", json_integer(admin_port));
	if (o != NULL && tenants != NULL) /* the fixtures' tenants */
		json_object_set(o, "tenants", tenants);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = 0;
	json_decref(o);
	if (s == NULL)
		return -1;
	if (ready_file[0] != '\0') {
		char *tmp = NULL;
		FILE *f = NULL;
		if (asprintf(&tmp, "%s.%d.tmp", ready_file, (int)getpid()) < 0)
			abort();
		bool ok = (f = fopen(tmp, "w")) != NULL &&
		          fprintf(f, "%s\n", s) >= 0;
		if (f != NULL && fclose(f) != 0)
			ok = false;
		if (!ok || rename(tmp, ready_file) != 0) {
			log_errx("ready_file %s: %s", ready_file, strerror(errno));
			unlink(tmp);
			rc = -1;
		}
		free(tmp);
	}
	if (rc == 0) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
	return rc;
}

/* The database holds the private signing keys and every hash: one that
 * other users can read or write is refused, with the fix. A new file is
 * created 0600 by the store. The CLI warns by the same rule. */
static int db_private(const char *db)
{
	char msg[1024];
	if (store_target_is_pg(db))
		return 0; /* PostgreSQL's own access control applies */
	if (file_private_check(db, "database", "it holds the signing keys", msg,
	                       sizeof(msg)) != 0) {
		log_errx("%s", msg);
		return -1;
	}
	return 0;
}

/* --ephemeral: a private directory for the database, removed at exit. */
static char *ephemeral_dir(void)
{
	const char *t = getenv("TMPDIR");
	char *dir = NULL;
	if (asprintf(&dir, "%s/latchkeyd-XXXXXX", t && t[0] ? t : "/tmp") < 0)
		abort();
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Every file in it (the database, its tenants', their -wal and -shm),
 * then the directory: it is private (mkdtemp), so all in it is ours. */
static void ephemeral_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

/* Longest pause between two attempts to reach the database at start. */
#define DB_RETRY_MAX_PAUSE_S 5

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With auto_migrate=false only `latchkey migrate` changes the schema: a
 * database older than this binary (or a new, empty one) is refused with
 * what to run. A newer one is left to store_migrate, which refuses it
 * with its own message and changes nothing. */
static enum store_rc migration_refused(struct store *st, char *err,
                                       size_t errlen)
{
	int dbv = 0, binv = 0;
	enum store_rc rc = store_schema_version(st, &dbv, &binv);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "reading the schema version: %s",
		         store_rc_str(rc));
		return rc;
	}
	if (dbv >= binv)
		return STORE_OK;
	snprintf(err, errlen, "schema version %d, this latchkeyd needs %d, "
	         "and auto_migrate is off: run latchkey migrate", dbv, binv);
	return STORE_INVALID;
}

/* Opens and migrates the store into *st. Started together with its
 * database (systemd, Kubernetes, docker-compose), latchkeyd may come up
 * first: on PostgreSQL a database that cannot be reached yet
 * (STORE_UNAVAILABLE: refused, no socket, timeout, starting up) is tried
 * again after 1, 2, 4, then every 5 s, one log line per attempt, until
 * wait_s seconds have passed. What waiting cannot fix (a bad URI,
 * authentication, no such database, a newer or edited schema) and SQLite
 * fail at once. SIGINT or SIGTERM (in sigs, blocked) during a pause ends
 * the wait with *sig set. Returns 0, or -1 with the cause logged. */
static int open_store(const char *db, const char *shown,
                      const struct store_options *so, bool auto_migrate,
                      long wait_s,
                      const sigset_t *sigs, struct store **st, int *applied,
                      int *schema, int *sig)
{
	char err[512];
	long long deadline = monotonic_ms() + wait_s * 1000;
	int pause_s = 1;
	for (;;) {
		enum store_rc rc = store_open_with(db, so, st, err, sizeof(err));
		if (rc == STORE_OK && !auto_migrate &&
		    (rc = migration_refused(*st, err, sizeof(err))) != STORE_OK) {
			store_close(*st);
			*st = NULL;
		} else if (rc == STORE_OK &&
		    (rc = store_migrate(*st, applied, schema, err,
		                        sizeof(err))) != STORE_OK) {
			store_close(*st);
			*st = NULL;
		}
		if (rc == STORE_OK)
			return 0;
		long long left = deadline - monotonic_ms();
		if (rc != STORE_UNAVAILABLE || !store_target_is_pg(db) ||
		    wait_s == 0) {
			log_errx("database %s: %s", shown, err);
			return -1;
		}
		if (left <= 0) {
			log_errx("database %s: still unavailable after %ld s "
			         "(db_startup_timeout): %s", shown, wait_s, err);
			return -1;
		}
		long long ms = left < pause_s * 1000LL ? left : pause_s * 1000LL;
		log_warnx("database %s unavailable: %s; retrying in %lld s",
		          shown, err, (ms + 999) / 1000);
		struct timespec ts = {(time_t)(ms / 1000),
		                      (long)(ms % 1000) * 1000000L};
		int got = sigtimedwait(sigs, NULL, &ts);
		if (got > 0) {
			*sig = got;
			log_info("signal %d: shutting down while waiting for the "
			         "database", got);
			return -1;
		}
		pause_s = pause_s * 2 > DB_RETRY_MAX_PAUSE_S ? DB_RETRY_MAX_PAUSE_S
		                                           : pause_s * 2;
	}
}

/* Everything main builds, torn down in reverse by teardown. */
struct daemon {
	struct lk_config cfg;
	sigset_t sigs; /* the signals only wait_for_signal sees */
	char *tmpdir;  /* --ephemeral's directory */
	char *db;
	char shown[512]; /* db as it may be logged: no password */
	struct store *st;
	struct grants *g;
	struct srv *srv;
	struct testdouble *td;
	struct housekeeping *hk;
	struct admin_api *admin;
	struct lifeline *lifeline;
	struct tenants *tenants;
	pid_t parent; /* getppid() at start, for exit_with_parent */
	char *base_issuer; /* issuer, or the URL of the bound address */
	char *issuer;      /* base_issuer plus issuer_path */
	int port;
	int admin_port;
};

/* Logging, then the process-wide settings every thread inherits, then
 * the lifeline. -1 (logged) when the lifeline cannot be started. */
static int process_setup(struct daemon *d)
{
	enum log_level lvl = LOG_INFO;
	log_level_parse(d->cfg.log_level, &lvl);
	log_init(d->cfg.log_format, lvl);
	/* Workers inherit this mask, so only wait_for_signal sees them. */
	sigemptyset(&d->sigs);
	sigaddset(&d->sigs, SIGINT);
	sigaddset(&d->sigs, SIGTERM);
	sigaddset(&d->sigs, SIGHUP); /* so --ephemeral still cleans up */
	sigaddset(&d->sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &d->sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past a file size limit (ulimit -f, LimitFSIZE=) a write fails with
	 * EFBIG instead of killing us: answered 503 like a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	/* One malloc arena: malloc_trim (housekeeping.c) gives back only
	 * the main arena's top, where Argon2id's 19 MiB blocks end up once
	 * freed; per-thread arenas would keep one for every worker. Small
	 * allocations stay lock-free in glibc's per-thread caches. */
	mallopt(M_ARENA_MAX, 1);
	log_buffer_start(); /* after the mask: its thread inherits it */
	/* From here a SIGTERM it sends is taken by wait_for_signal, or by
	 * open_store's wait, whenever it comes. */
	char err[256] = "";
	if (d->cfg.exit_with_parent && d->parent <= 1)
		log_warnx("exit_with_parent: the parent process (pid %d) is "
		          "already init or gone; there is no parent to follow",
		          (int)d->parent);
	d->lifeline = lifeline_start(d->cfg.exit_on_stdin_close != 0,
	                             d->cfg.exit_with_parent ? d->parent : 0, err,
	                             sizeof(err));
	if (d->lifeline == NULL && err[0] != '\0') {
		log_errx("%s", err);
		return -1;
	}
	/* A core dump would hold the signing keys and the secret cache. */
	prctl(PR_SET_DUMPABLE, 0);
	return 0;
}

/* The database's path (a private directory's with --ephemeral), opened
 * and migrated, with the fixtures applied. -1: logged, or *stopped when a
 * signal came while waiting for the database (a shutdown as asked). */
static int store_setup(struct daemon *d, bool *stopped)
{
	const struct lk_config *cfg = &d->cfg;
	char err[512];
	if (cfg->ephemeral) {
		if ((d->tmpdir = ephemeral_dir()) == NULL) {
			log_errx("ephemeral: cannot make a temporary directory: %s",
			         strerror(errno));
			return -1;
		}
		if (asprintf(&d->db, "%s/latchkey.db", d->tmpdir) < 0)
			abort();
	} else {
		d->db = xstrdup(cfg->db);
	}
	if (db_private(d->db) != 0)
		return -1;
	int applied = 0, schema = 0;
	struct store_options so = {
		.durability = strcmp(cfg->durability, "full") == 0
		                  ? STORE_DURABILITY_FULL
		                  : STORE_DURABILITY_NORMAL,
		.pool_size = (int)cfg->db_pool_size,
		.connect_timeout = (int)cfg->db_connect_timeout,
		/* 0 turns the timeout off; the options' 0 is "the default". */
		.statement_timeout = cfg->db_statement_timeout > 0
		                         ? (int)cfg->db_statement_timeout
		                         : -1,
	};
	store_target_redact(d->db, d->shown, sizeof(d->shown));
	int early_sig = 0;
	if (open_store(d->db, d->shown, &so, cfg->auto_migrate != 0,
	               cfg->db_startup_timeout, &d->sigs,
	               &d->st, &applied, &schema, &early_sig) != 0) {
		*stopped = early_sig != 0;
		return -1;
	}
	if (applied > 0 && !cfg->ephemeral)
		log_info("database %s: applied %d migration(s), schema version %d",
		         d->shown, applied, schema);
	/* Test data is hashed fast in a throwaway database: start-up stays
	 * at milliseconds and no request waits for Argon2id. */
	if (cfg->fixtures[0] != '\0' &&
	    fixtures_apply(d->st, cfg->fixtures, cfg->ephemeral != 0, err,
	                   sizeof(err)) != 0) {
		log_errx("%s", err);
		return -1;
	}
	return 0;
}

/* An issuer setting with "{port}" in it, completed with the port bound
 * (listen's port 0 picks a free one). The caller frees. */
static char *issuer_with_port(const char *tmpl, int port)
{
	char num[16];
	snprintf(num, sizeof(num), "%d", port);
	size_t n = 0;
	for (const char *p = strstr(tmpl, "{port}"); p != NULL;
	     p = strstr(p + 6, "{port}"))
		n++;
	char *out = xcalloc(strlen(tmpl) + n * strlen(num) + 1, 1);
	char *o = out;
	for (const char *p = tmpl; *p != '\0';) {
		if (strncmp(p, "{port}", 6) == 0) {
			o = stpcpy(o, num);
			p += 6;
		} else {
			*o++ = *p++;
		}
	}
	return out;
}

/* Binds, and derives the issuer from the bound port when none is set.
 * Returns the listening socket, or -1 (logged). */
static int listen_setup(struct daemon *d)
{
	const struct lk_config *cfg = &d->cfg;
	char err[512];
	int fd = srv_listen(cfg->listen_host, cfg->listen_port, &d->port, err,
	                    sizeof(err));
	if (fd < 0) {
		log_errx("%s", err);
		return -1;
	}
	d->base_issuer = cfg->issuer[0]
	                     ? issuer_with_port(cfg->issuer, d->port)
	                     : srv_default_issuer(cfg->listen_host, d->port,
	                                          cfg->tls_cert[0] != '\0');
	if (d->base_issuer == NULL) {
		close(fd);
		return -1;
	}
	/* issuer_path: the endpoints are served under it (server/sites.c) */
	if (asprintf(&d->issuer, "%s%s", d->base_issuer, cfg->issuer_path) < 0)
		abort();
	if (cfg->issuer[0] == '\0' &&
	    (strcmp(cfg->listen_host, "0.0.0.0") == 0 ||
	     strcmp(cfg->listen_host, "::") == 0))
		log_warnx("issuer %s is not an address clients can use; set "
		          "--issuer to the URL they reach this server at",
		          d->issuer);
	return fd;
}

/* The grants of the issuer, and the tenants' of the fixtures. */
static int grants_setup(struct daemon *d)
{
	char err[512];
	struct grants_config gc;
	grants_config_from(&gc, &d->cfg, d->issuer);
	if (grants_new(d->st, &gc, &d->g, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		return -1;
	}
	return tenants_open(&d->cfg, d->tmpdir, d->base_issuer, &d->tenants);
}

/* The server, with the test double around it when asked, serving on fd
 * (taken over). */
static int server_setup(struct daemon *d, int fd)
{
	const struct lk_config *cfg = &d->cfg;
	char err[512];
	if (srv_new(cfg, d->g, d->st, d->issuer, &d->srv, err,
	            sizeof(err)) != 0) {
		close(fd);
		log_errx("%s", err);
		return -1;
	}
	if (tenants_serve(d->tenants, d->srv) != 0) {
		close(fd);
		return -1;
	}
	if (cfg->test_double &&
	    testdouble_install(d->srv, cfg, &d->td, err, sizeof(err)) != 0) {
		close(fd);
		log_errx("%s", err);
		return -1;
	}
	if (srv_start(d->srv, fd, err, sizeof(err)) != 0) { /* fd is closed */
		log_errx("%s", err);
		return -1;
	}
	log_info("listening on %s:%d, issuer %s, %ld threads", cfg->listen_host,
	         d->port, d->issuer, cfg->threads);
	return 0;
}

/* The same ending on both backends: purge every N s, or off. */
static void log_database(const struct daemon *d)
{
	const struct lk_config *cfg = &d->cfg;
	if (store_target_is_pg(d->db) && cfg->purge_interval > 0)
		log_info("database %s: PostgreSQL, up to %ld connections, "
		         "purge every %ld s", d->shown, cfg->db_pool_size,
		         cfg->purge_interval);
	else if (store_target_is_pg(d->db))
		log_info("database %s: PostgreSQL, up to %ld connections, "
		         "purge off", d->shown, cfg->db_pool_size);
	else if (cfg->purge_interval > 0)
		log_info("database %s: durability %s, purge every %ld s", d->shown,
		         cfg->durability, cfg->purge_interval);
	else
		log_info("database %s: durability %s, purge off", d->shown,
		         cfg->durability);
}

/* housekeeping's tick: the staged key rotation (key_rotation_interval). */
static void key_tick(void *arg)
{
	grants_key_schedule(arg);
}

static int housekeeping_setup(struct daemon *d)
{
	char err[512];
	d->hk = housekeeping_start(d->st, d->cfg.purge_interval,
	                           d->cfg.audit_retention,
	                           d->cfg.key_rotation_interval > 0 ? key_tick
	                                                            : NULL,
	                           d->g, err, sizeof(err));
	if (d->hk == NULL) {
		log_errx("%s", err);
		return -1;
	}
	return 0;
}

/* The admin HTTP API on admin_listen, when set (docs/admin-api.md). */
static int admin_setup(struct daemon *d)
{
	char err[512];
	if (admin_api_start(&d->cfg, d->g, d->st, &d->admin, &d->admin_port,
	                    err, sizeof(err)) != 0) {
		log_errx("%s", err);
		return -1;
	}
	if (d->admin != NULL)
		log_info("admin API on %s:%d%s%s", d->cfg.admin_listen_host,
		         d->admin_port,
		         d->cfg.admin_tls_cert[0] != '\0' ? ", HTTPS" : "",
		         d->cfg.admin_tls_client_ca[0] != '\0'
		             ? ", client certificates required"
		             : "");
	return 0;
}

static int wait_for_signal(const sigset_t *sigs)
{
	int sig = 0;
	sigwait(sigs, &sig);
	return sig;
}

static void teardown(struct daemon *d)
{
	lifeline_stop(d->lifeline);
	housekeeping_stop(d->hk);
	admin_api_stop(d->admin);
	srv_stop(d->srv);
	testdouble_free(d->td);
	tenants_close(d->tenants);
	grants_free(d->g);
	store_close(d->st);
	if (d->tmpdir != NULL)
		ephemeral_remove(d->tmpdir);
	if (d->cfg.ready_file != NULL && d->cfg.ready_file[0] != '\0')
		unlink(d->cfg.ready_file);
	free(d->tmpdir);
	free(d->db);
	free(d->issuer);
	free(d->base_issuer);
	config_free(&d->cfg);
	log_buffer_stop();
}

/* The settings, from the command line, the environment and the file.
 * -1 when latchkeyd goes on, else the status to exit with (--help and
 * --version: 0, a bad setting: 2). */
static int settings_load(struct daemon *d, int argc, char **argv)
{
	char err[512];
	switch (config_load(&d->cfg, argc, argv, stdout, err, sizeof(err))) {
	case CONFIG_OK:
		return -1;
	case CONFIG_EXIT:
		config_free(&d->cfg);
		return 0;
	case CONFIG_VERSION: {
		struct version_libs v = {0};
		srv_libs(&v);
		version_print(stdout, "latchkeyd", &v);
		config_free(&d->cfg);
		return 0;
	}
	case CONFIG_ERR:
		break;
	}
	fprintf(stderr, "latchkeyd: %s\n", err);
	config_free(&d->cfg);
	return 2;
}

int main(int argc, char **argv)
{
	/* Before anything: a parent gone already shows as another one. */
	struct daemon d = {.parent = getppid()};
	int exit_now = settings_load(&d, argc, argv);
	if (exit_now >= 0)
		return exit_now;
	if (process_setup(&d) != 0) {
		teardown(&d);
		return 1;
	}
	/* A harness waiting for the file must not read a previous run's. */
	if (d.cfg.ready_file[0] != '\0')
		unlink(d.cfg.ready_file);

	bool stopped = false;
	int fd = -1;
	int rc = 1;
	if (store_setup(&d, &stopped) != 0 || (fd = listen_setup(&d)) < 0)
		goto out;
	if (grants_setup(&d) != 0) {
		close(fd);
		goto out;
	}
	if (server_setup(&d, fd) != 0)
		goto out;
	log_database(&d);
	if (housekeeping_setup(&d) != 0 || admin_setup(&d) != 0)
		goto out;
	if (d.cfg.test_double)
		log_warnx("test_double: /_control/ endpoints are on for loopback "
		          "clients (for tests only)");
	json_t *tenants = tenants_json(d.tenants);
	int announced = announce_ready(d.issuer, d.cfg.listen_host, d.port,
	                               d.admin_port, d.shown, tenants,
	                               d.cfg.ready_file);
	json_decref(tenants);
	if (announced != 0)
		goto out;

	int sig = wait_for_signal(&d.sigs);
	log_info("signal %d: shutting down", sig);
	rc = 0;
out:
	teardown(&d);
	return stopped ? 0 : rc;
}

/*
 * pg_store.c: the PostgreSQL backend's entry (map: pg_int.h): opening
 * (the URI is checked by libpq and one connection is made, so a wrong
 * address fails at start), closing, and the one table that gathers the
 * methods of the entity files into struct store_ops.
 *
 * The URI is kept as given, for libpq, and shown only through
 * store_target_redact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "store_int.h"
#include "strutil.h"

static void pg_close(struct store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	pg_pool_drain(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	if (s->uri != NULL) {
		memset(s->uri, 0, strlen(s->uri)); /* it may hold a password */
		free(s->uri);
	}
	free(s);
}

/* Connections are pooled, not kept per thread: nothing to release. */
static void pg_thread_end(struct store *base)
{
	(void)base;
}

/* The one table of the backend's methods. The methods are static in
 * their entity's files, which export them in small tables of their own
 * (pg_int.h); C initializers cannot read those, so it is filled once. */
static struct store_ops pg_ops;

static void ops_init(void)
{
	pg_ops.version = 6;
	pg_ops.name = "postgresql";
	pg_ops.xClose = pg_close;
	pg_ops.xMigrate = pg_migrate;
	pg_ops.xSchemaVersion = pg_schema_version;
	pg_ops.xClientAdd = pg_client_ops.add;
	pg_ops.xClientGet = pg_client_ops.get;
	pg_ops.xClientUpdate = pg_client_ops.update;
	pg_ops.xClientRemove = pg_client_ops.remove;
	pg_ops.xClientList = pg_client_ops.list;
	pg_ops.xUserAdd = pg_client_ops.user_add;
	pg_ops.xUserGet = pg_client_ops.user_get;
	pg_ops.xUserSetPassword = pg_client_ops.user_set_password;
	pg_ops.xUserRemove = pg_client_ops.user_remove;
	pg_ops.xUserList = pg_client_ops.user_list;
	pg_ops.xTokenAdd = pg_token_ops.add;
	pg_ops.xTokenGet = pg_token_ops.get;
	pg_ops.xTokenList = pg_token_ops.list;
	pg_ops.xTokenRevoke = pg_token_ops.revoke;
	pg_ops.xTokenRevokeClient = pg_token_ops.revoke_client;
	pg_ops.xKeyAddCurrent = pg_token_ops.key_add_current;
	pg_ops.xKeyCurrent = pg_token_ops.key_current;
	pg_ops.xKeyList = pg_token_ops.key_list;
	pg_ops.xIssue = pg_token_ops.issue;
	pg_ops.xRefreshGet = pg_token_ops.refresh_get;
	pg_ops.xFamilyRevoke = pg_token_ops.family_revoke;
	pg_ops.xUserGetById = pg_client_ops.user_get_by_id;
	pg_ops.xThreadEnd = pg_thread_end;
	pg_ops.xRefreshList = pg_token_ops.refresh_list;
	pg_ops.xSubjectRevoke = pg_token_ops.subject_revoke;
	pg_ops.xCodeAdd = pg_code_ops.add;
	pg_ops.xCodeGet = pg_code_ops.get;
	pg_ops.xSessionAdd = pg_code_ops.session_add;
	pg_ops.xSessionGet = pg_code_ops.session_get;
	pg_ops.xSessionRemove = pg_code_ops.session_remove;
	pg_ops.xConsentGet = pg_code_ops.consent_get;
	pg_ops.xConsentPut = pg_code_ops.consent_put;
	pg_ops.xConsentList = pg_code_ops.consent_list;
	pg_ops.xConsentRevoke = pg_code_ops.consent_revoke;
	pg_ops.xPurgeExpired = pg_upkeep_ops.purge_expired;
	pg_ops.xSessionsEndUser = pg_code_ops.sessions_end_user;
	pg_ops.xResetTokens = pg_upkeep_ops.reset_tokens;
	pg_ops.xPurge = pg_upkeep_ops.purge;
	pg_ops.xBackup = pg_upkeep_ops.backup;
}

static int clamp(int v, int def, int lo, int hi)
{
	if (v == 0)
		return def;
	return v < lo ? lo : v > hi ? hi : v;
}

enum store_rc store_pg_open(const char *uri, const struct store_options *o,
                            struct store **out, char *err, size_t errlen)
{
	char shown[256];
	store_target_redact(uri, shown, sizeof(shown));
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(uri, &perr);
	if (opts == NULL) {
		/* libpq's message may end by quoting the URI, password and
		 * all ("... in URI: \"postgresql://u:pw@..."): cut there. */
		const char *why = perr ? perr : "invalid URI";
		size_t n = strcspn(why, "\n");
		const char *quote = strstr(why, " in URI");
		if (quote == NULL)
			quote = strstr(why, "\"postgres");
		if (quote != NULL && (size_t)(quote - why) < n)
			n = (size_t)(quote - why);
		while (n > 0 && strchr(": ", why[n - 1]) != NULL)
			n--;
		snprintf(err, errlen, "not a PostgreSQL URI libpq can read "
		         "(%s): %.*s", shown, (int)n, why);
		PQfreemem(perr);
		return STORE_INVALID;
	}
	PQconninfoFree(opts);
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, ops_init);
	struct pg_store *s = xcalloc(1, sizeof(*s));
	s->base.ops = &pg_ops;
	s->uri = xstrdup(uri);
	s->pool_size = clamp(o->pool_size, STORE_PG_POOL_DEFAULT, 1,
	                     STORE_PG_POOL_MAX);
	s->connect_timeout = clamp(o->connect_timeout,
	                           STORE_PG_CONNECT_TIMEOUT_DEFAULT, 1, 3600);
	s->statement_timeout = o->statement_timeout < 0
	                           ? 0
	                           : clamp(o->statement_timeout,
	                                   STORE_PG_STATEMENT_TIMEOUT_DEFAULT,
	                                   1, 86400);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	char msg[256] = "";
	struct pg_conn *c = pg_conn_open(s, msg, sizeof(msg));
	if (c == NULL) {
		snprintf(err, errlen, "%s", msg);
		pg_close(&s->base);
		return STORE_UNAVAILABLE;
	}
	s->open = 1;
	pg_release(s, c);
	*out = &s->base;
	return STORE_OK;
}

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

#include "config.h"
#include "pg_int.h"
#include "store_int.h"
#include "strutil.h"

static void pg_close(struct store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	pg_gc_destroy(s); /* first: its writer borrows pooled connections */
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

/* The backend's method tables, grouped as store.h groups them. The
 * methods are static in their entity's files, which export them in small
 * tables of their own (pg_int.h); C initializers cannot read those, so the
 * groups are filled once, at the first open. */
static struct store_db_methods pg_db;
static struct store_client_methods pg_client;
static struct store_user_methods pg_user;
static struct store_key_methods pg_key;
static struct store_token_methods pg_token;
static struct store_refresh_methods pg_refresh;
static struct store_code_methods pg_code;
static struct store_session_methods pg_session;
static struct store_consent_methods pg_consent;
static struct store_upkeep_methods pg_upkeep;
static struct store_test_methods pg_test;
static const struct store_audit_methods pg_audit = {
	.xAdd = pg_audit_add, .xList = pg_audit_list, .xPurge = pg_audit_purge};
static const struct store_ops pg_ops = {
	.version = STORE_OPS_VERSION,
	.name = "postgresql",
	.db = &pg_db, .client = &pg_client, .user = &pg_user, .key = &pg_key,
	.token = &pg_token, .refresh = &pg_refresh, .code = &pg_code,
	.session = &pg_session, .consent = &pg_consent, .upkeep = &pg_upkeep,
	.test = &pg_test, .throttle = &pg_throttle_methods,
	.copy = &pg_copy_methods, .audit = &pg_audit,
	.issuer = &pg_issuer_methods, .resource = &pg_resource_methods,
};

static void ops_init(void)
{
	pg_db = (struct store_db_methods){
		.xClose = pg_close, .xMigrate = pg_migrate,
		.xSchemaVersion = pg_schema_version, .xThreadEnd = pg_thread_end};
	pg_client = (struct store_client_methods){
		.xAdd = pg_client_ops.add, .xGet = pg_client_ops.get,
		.xUpdate = pg_client_ops.update, .xRemove = pg_client_ops.remove,
		.xList = pg_client_ops.list};
	pg_user = (struct store_user_methods){
		.xAdd = pg_client_ops.user_add, .xGet = pg_client_ops.user_get,
		.xGetById = pg_client_ops.user_get_by_id,
		.xSetPassword = pg_client_ops.user_set_password,
		.xSetClaims = pg_client_ops.user_set_claims,
		.xRemove = pg_client_ops.user_remove,
		.xList = pg_client_ops.user_list};
	pg_key = (struct store_key_methods){
		.xAddCurrent = pg_token_ops.key_add_current,
		.xReplaceCurrent = pg_token_ops.key_replace_current,
		.xCurrent = pg_token_ops.key_current,
		.xList = pg_token_ops.key_list,
		.xAddNext = pg_token_ops.key_add_next,
		.xNext = pg_token_ops.key_next,
		.xPromote = pg_token_ops.key_promote};
	pg_token = (struct store_token_methods){
		.xIssue = pg_issue, .xGet = pg_token_ops.get,
		.xList = pg_token_ops.list, .xRevoke = pg_token_ops.revoke,
		.xRevokeClient = pg_token_ops.revoke_client,
		.xRevokeSubject = pg_token_ops.subject_revoke};
	pg_refresh = (struct store_refresh_methods){
		.xGet = pg_token_ops.refresh_get, .xList = pg_token_ops.refresh_list,
		.xFamilyRevoke = pg_token_ops.family_revoke,
		.xRevokeSid = pg_token_ops.revoke_sid};
	pg_code = (struct store_code_methods){
		.xAdd = pg_code_ops.add, .xGet = pg_code_ops.get,
		.xJtiUse = pg_code_ops.jti_use,
		.xDeviceAdd = pg_code_ops.device_add,
		.xDeviceGet = pg_code_ops.device_get,
		.xDeviceByUser = pg_code_ops.device_by_user,
		.xDeviceDecide = pg_code_ops.device_decide,
		.xDevicePoll = pg_code_ops.device_poll};
	pg_session = (struct store_session_methods){
		.xAdd = pg_code_ops.session_add, .xGet = pg_code_ops.session_get,
		.xEndUser = pg_code_ops.sessions_end_user,
		.xEnd = pg_code_ops.session_end, .xList = pg_code_ops.session_list};
	pg_consent = (struct store_consent_methods){
		.xGet = pg_code_ops.consent_get, .xPut = pg_code_ops.consent_put,
		.xList = pg_code_ops.consent_list,
		.xRevoke = pg_code_ops.consent_revoke};
	pg_upkeep = (struct store_upkeep_methods){
		.xPurge = pg_upkeep_ops.purge, .xBackup = pg_upkeep_ops.backup};
	pg_test = (struct store_test_methods){
		.xResetTokens = pg_upkeep_ops.reset_tokens};
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
	s->pool_size = clamp(o->pool_size, config_default_int("db_pool_size"),
	                     1, STORE_PG_POOL_MAX);
	s->connect_timeout = clamp(o->connect_timeout,
	                           config_default_int("db_connect_timeout"), 1,
	                           3600);
	s->statement_timeout =
	    o->statement_timeout < 0
	        ? 0
	        : clamp(o->statement_timeout,
	                config_default_int("db_statement_timeout"), 1, 86400);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pg_gc_init(s);
	char msg[256] = "";
	enum store_rc why = STORE_UNAVAILABLE;
	struct pg_conn *c = pg_conn_open(s, &why, msg, sizeof(msg));
	if (c == NULL) {
		snprintf(err, errlen, "%s", msg);
		pg_close(&s->base);
		return why;
	}
	s->open = 1;
	pg_release(s, c);
	*out = &s->base;
	return STORE_OK;
}

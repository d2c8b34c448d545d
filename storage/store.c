/*
 * store.c: backend selection and the wrappers of store.h. The wrappers are
 * the only code that reads ops, so the tables can be regrouped or grow
 * (bumping STORE_OPS_VERSION) and callers keep working. Also the one
 * waiting form of the issue's completion (store_issue).
 */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum store_rc store_open(const char *target, struct store **out, char *err,
                         size_t errlen)
{
	return store_open_with(target, NULL, out, err, errlen);
}

enum store_rc store_open_with(const char *target,
                              const struct store_options *o,
                              struct store **out, char *err, size_t errlen)
{
	static const struct store_options defaults = {0};
	*out = NULL;
	if (o == NULL)
		o = &defaults;
	if (strncmp(target, "sqlite:", 7) == 0)
		target += 7;
	if (store_target_is_pg(target))
		return store_pg_open(target, o, out, err, errlen);
	/* "postgresql:/x" and the like would otherwise become a file, and
	 * its name (password and all) a message. */
	if (strstr(target, "://") != NULL ||
	    strncmp(target, "postgres:", 9) == 0 ||
	    strncmp(target, "postgresql:", 11) == 0) {
		char shown[256];
		store_target_redact(target, shown, sizeof(shown));
		snprintf(err, errlen, "no storage backend for '%.128s' (SQLite "
		         "files and postgresql:// URIs are supported)", shown);
		return STORE_INVALID;
	}
	enum store_rc r = store_sqlite_open(target, o, out, err, errlen);
	if (r == STORE_OK && (*out)->ops->version != STORE_OPS_VERSION) {
		snprintf(err, errlen, "the %s backend implements storage "
		         "interface %d, not %d", (*out)->ops->name,
		         (*out)->ops->version, STORE_OPS_VERSION);
		store_close(*out);
		*out = NULL;
		return STORE_INVALID;
	}
	return r;
}

void store_close(struct store *s)
{
	if (s != NULL)
		s->ops->db->xClose(s);
}

/* ---- the database ---- */

enum store_rc store_migrate(struct store *s, int *applied, int *schema,
                            char *err, size_t errlen)
{ return s->ops->db->xMigrate(s, applied, schema, err, errlen); }
enum store_rc store_schema_version(struct store *s, int *db, int *binary)
{ return s->ops->db->xSchemaVersion(s, db, binary); }
void store_thread_end(struct store *s)
{ s->ops->db->xThreadEnd(s); }

/* ---- clients and users ---- */

enum store_rc store_client_add(struct store *s, const struct store_client *c)
{ return s->ops->client->xAdd(s, c); }
enum store_rc store_client_get(struct store *s, const char *id,
                               struct store_client *out)
{ return s->ops->client->xGet(s, id, out); }
enum store_rc store_client_update(struct store *s, const struct store_client *c)
{ return s->ops->client->xUpdate(s, c); }
enum store_rc store_client_remove(struct store *s, const char *id)
{ return s->ops->client->xRemove(s, id); }
enum store_rc store_client_list(struct store *s, store_client_cb cb, void *arg)
{ return s->ops->client->xList(s, NULL, cb, arg); }
enum store_rc store_client_page(struct store *s, const struct store_page *p,
                                store_client_cb cb, void *arg)
{ return s->ops->client->xList(s, p, cb, arg); }
enum store_rc store_user_add(struct store *s, const struct store_user *u)
{ return s->ops->user->xAdd(s, u); }
enum store_rc store_user_get(struct store *s, const char *username,
                             struct store_user *out)
{ return s->ops->user->xGet(s, username, out); }
enum store_rc store_user_get_by_id(struct store *s, const char *user_id,
                                  struct store_user *out)
{ return s->ops->user->xGetById(s, user_id, out); }
enum store_rc store_user_set_password(struct store *s, const char *username,
                                      const char *hash, int64_t now)
{ return s->ops->user->xSetPassword(s, username, hash, now); }
enum store_rc store_user_set_claims(struct store *s, const char *username,
                                    const char *claims, int64_t now)
{ return s->ops->user->xSetClaims(s, username, claims, now); }
enum store_rc store_user_remove(struct store *s, const char *username)
{ return s->ops->user->xRemove(s, username); }
enum store_rc store_user_list(struct store *s, store_user_cb cb, void *arg)
{ return s->ops->user->xList(s, NULL, cb, arg); }
enum store_rc store_user_page(struct store *s, const struct store_page *p,
                              store_user_cb cb, void *arg)
{ return s->ops->user->xList(s, p, cb, arg); }

/* ---- keys ---- */

enum store_rc store_key_add_current(struct store *s, const struct store_key *k)
{ return s->ops->key->xAddCurrent(s, k); }
enum store_rc store_key_replace_current(struct store *s, const char *expected,
                                        const struct store_key *k)
{ return s->ops->key->xReplaceCurrent(s, expected, k); }
enum store_rc store_key_current(struct store *s, const char *alg,
                               struct store_key *out)
{ return s->ops->key->xCurrent(s, alg, out); }
enum store_rc store_key_add_next(struct store *s, const struct store_key *k,
                                 bool only_if_none)
{ return s->ops->key->xAddNext(s, k, only_if_none); }
enum store_rc store_key_next(struct store *s, const char *alg,
                             struct store_key *out)
{ return s->ops->key->xNext(s, alg, out); }
enum store_rc store_key_promote(struct store *s, const char *alg,
                                const char *expected, int64_t now)
{ return s->ops->key->xPromote(s, alg, expected, now); }
enum store_rc store_key_list(struct store *s, bool published_only, int64_t now,
                             int64_t grace, store_key_cb cb, void *arg)
{ return s->ops->key->xList(s, published_only, now, grace, NULL, cb, arg); }
enum store_rc store_key_page(struct store *s, const struct store_page *p,
                             store_key_cb cb, void *arg)
{ return s->ops->key->xList(s, false, 0, 0, p, cb, arg); }

/* ---- tokens, refresh tokens, families ---- */

void store_issue_submit(struct store *s, const struct store_issue *is,
                        store_issue_done done, void *arg)
{ s->ops->token->xIssue(s, is, done, arg); }

/* store_issue's wait: the completion may come on another thread. */
struct issue_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum store_rc rc;
};

static void issue_waited(enum store_rc rc, void *arg)
{
	struct issue_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum store_rc store_issue(struct store *s, const struct store_issue *is)
{
	struct issue_wait w = {.done = false, .rc = STORE_IO};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	store_issue_submit(s, is, issue_waited, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return w.rc;
}

enum store_rc store_token_get(struct store *s, const char *jti,
                              struct store_token *out)
{ return s->ops->token->xGet(s, jti, out); }
enum store_rc store_token_list(struct store *s, const struct store_token_filter *f,
                               store_token_cb cb, void *arg)
{ return s->ops->token->xList(s, f, cb, arg); }
enum store_rc store_token_revoke(struct store *s, const char *jti, int64_t now,
                                 int *count)
{ return s->ops->token->xRevoke(s, jti, now, count); }
enum store_rc store_token_revoke_client(struct store *s, const char *client_id,
                                        int64_t now, int *count)
{ return s->ops->token->xRevokeClient(s, client_id, now, count); }
enum store_rc store_subject_revoke(struct store *s, const char *subject,
                                   int64_t now, int *count)
{ return s->ops->token->xRevokeSubject(s, subject, now, count); }
enum store_rc store_refresh_get(struct store *s, const char *token_hash,
                                struct store_refresh *out)
{ return s->ops->refresh->xGet(s, token_hash, out); }
enum store_rc store_refresh_list(struct store *s,
                                 const struct store_refresh_filter *f,
                                 store_refresh_cb cb, void *arg)
{ return s->ops->refresh->xList(s, f, cb, arg); }
enum store_rc store_family_revoke(struct store *s, const char *family_id,
                                  int64_t now, int *count)
{ return s->ops->refresh->xFamilyRevoke(s, family_id, now, count); }

/* ---- codes, sessions, consents ---- */

enum store_rc store_code_add(struct store *s, const struct store_code *c)
{ return s->ops->code->xAdd(s, c); }
enum store_rc store_code_get(struct store *s, const char *code_hash,
                             struct store_code *out)
{ return s->ops->code->xGet(s, code_hash, out); }
enum store_rc store_jti_use(struct store *s, const char *jti_hash,
                            int64_t expires_at, int64_t now)
{ return s->ops->code->xJtiUse(s, jti_hash, expires_at, now); }
enum store_rc store_issuer_add(struct store *s, const struct store_issuer *i)
{ return s->ops->issuer->xAdd(s, i); }
enum store_rc store_issuer_get(struct store *s, const char *issuer,
                               struct store_issuer *out)
{ return s->ops->issuer->xGet(s, issuer, out); }
enum store_rc store_issuer_list(struct store *s, const struct store_page *page,
                                store_issuer_cb cb, void *arg)
{ return s->ops->issuer->xList(s, page, cb, arg); }
enum store_rc store_issuer_remove(struct store *s, const char *issuer,
                                  int *count)
{ return s->ops->issuer->xRemove(s, issuer, count); }
enum store_rc store_resource_add(struct store *s,
                                 const struct store_resource *r)
{ return s->ops->resource->xAdd(s, r); }
enum store_rc store_resource_get(struct store *s, const char *resource,
                                 struct store_resource *out)
{ return s->ops->resource->xGet(s, resource, out); }
enum store_rc store_resource_list(struct store *s,
                                  const struct store_page *page,
                                  store_resource_cb cb, void *arg)
{ return s->ops->resource->xList(s, page, cb, arg); }
enum store_rc store_resource_remove(struct store *s, const char *resource,
                                    int *count)
{ return s->ops->resource->xRemove(s, resource, count); }
enum store_rc store_device_add(struct store *s, const struct store_device *d)
{ return s->ops->code->xDeviceAdd(s, d); }
enum store_rc store_device_get(struct store *s, const char *hash,
                               struct store_device *out)
{ return s->ops->code->xDeviceGet(s, hash, out); }
enum store_rc store_device_by_user(struct store *s, const char *hash,
                                   int64_t now, struct store_device *out)
{ return s->ops->code->xDeviceByUser(s, hash, now, out); }
enum store_rc store_device_decide(struct store *s, const char *user_hash,
                                  int64_t now, const struct store_device *d)
{ return s->ops->code->xDeviceDecide(s, user_hash, now, d); }
enum store_rc store_device_poll(struct store *s, const char *hash,
                                int64_t was, int64_t now, int64_t interval)
{ return s->ops->code->xDevicePoll(s, hash, was, now, interval); }
enum store_rc store_session_add(struct store *s,
                                const struct store_session *se)
{ return s->ops->session->xAdd(s, se); }
enum store_rc store_session_get(struct store *s, const char *session_hash,
                                int64_t now, struct store_session *out)
{ return s->ops->session->xGet(s, session_hash, now, out); }
enum store_rc store_session_end(struct store *s, const char *sid, int *count)
{ return s->ops->session->xEnd(s, sid, count); }
enum store_rc store_session_list(struct store *s, const char *user_id,
                                 int64_t now, const struct store_page *p,
                                 store_session_cb cb, void *arg)
{ return s->ops->session->xList(s, user_id, now, p, cb, arg); }
enum store_rc store_refresh_revoke_sid(struct store *s, const char *sid,
                                       const char *client_id, int64_t now,
                                       int *count)
{ return s->ops->refresh->xRevokeSid(s, sid, client_id, now, count); }
enum store_rc store_sessions_end_user(struct store *s, const char *user_id,
                                      int *count)
{ return s->ops->session->xEndUser(s, user_id, count); }
enum store_rc store_consent_get(struct store *s, const char *user_id,
                                const char *client_id,
                                struct store_consent *out)
{ return s->ops->consent->xGet(s, user_id, client_id, out); }
enum store_rc store_consent_put(struct store *s,
                                const struct store_consent *c)
{ return s->ops->consent->xPut(s, c); }
enum store_rc store_consent_list(struct store *s, const char *user_id,
                                 const char *client_id, store_consent_cb cb,
                                 void *arg)
{ return s->ops->consent->xList(s, user_id, client_id, NULL, cb, arg); }
enum store_rc store_consent_page(struct store *s, const char *user_id,
                                 const char *client_id,
                                 const struct store_page *p,
                                 store_consent_cb cb, void *arg)
{ return s->ops->consent->xList(s, user_id, client_id, p, cb, arg); }
enum store_rc store_consent_revoke(struct store *s, const char *user_id,
                                   const char *client_id, int *count)
{ return s->ops->consent->xRevoke(s, user_id, client_id, count); }

/* ---- audit ---- */

enum store_rc store_audit_add(struct store *s, const struct store_audit *e)
{ return s->ops->audit->xAdd(s, e); }
enum store_rc store_audit_list(struct store *s,
                               const struct store_audit_filter *f,
                               store_audit_cb cb, void *arg)
{ return s->ops->audit->xList(s, f, cb, arg); }
enum store_rc store_audit_purge(struct store *s, int64_t before,
                                int64_t *count)
{
	*count = 0;
	return s->ops->audit->xPurge(s, before, count);
}

/* ---- upkeep ---- */

enum store_rc store_purge(struct store *s, int64_t now,
                          struct store_purge_counts *out)
{
	*out = (struct store_purge_counts){0};
	return s->ops->upkeep->xPurge(s, now, out);
}

enum store_rc store_backup(struct store *s, const char *dest, bool replace,
                           struct store_backup_info *out, char *err,
                           size_t errlen)
{
	*out = (struct store_backup_info){0};
	if (s->ops->upkeep->xBackup == NULL) {
		snprintf(err, errlen, "the %s backend cannot make backups",
		         s->ops->name);
		return STORE_INVALID;
	}
	return s->ops->upkeep->xBackup(s, dest, replace, out, err, errlen);
}

/* ---- the test double's table ---- */

enum store_rc store_reset_tokens(struct store *s)
{
	const struct store_test_methods *m = s->ops->test;
	return m && m->xResetTokens ? m->xResetTokens(s) : STORE_INVALID;
}

bool store_has_throttle(struct store *s)
{
	return s->ops->throttle != NULL;
}

enum store_rc store_throttle_peek(struct store *s,
                                  const struct store_throttle_key *keys,
                                  size_t n, int64_t now, int64_t window,
                                  struct store_throttle_state *out)
{
	const struct store_throttle_methods *m = s->ops->throttle;
	return m ? m->xPeek(s, keys, n, now, window, out) : STORE_INVALID;
}

enum store_rc store_throttle_reserve(struct store *s,
                                     const struct store_throttle_key *keys,
                                     size_t n, int64_t now, int64_t window,
                                     int64_t ticket, bool *had_failures,
                                     int *stopped, bool *slowed)
{
	const struct store_throttle_methods *m = s->ops->throttle;
	return m ? m->xReserve(s, keys, n, now, window, ticket, had_failures,
	                       stopped, slowed)
	         : STORE_INVALID;
}

enum store_rc store_throttle_commit(struct store *s,
                                    const struct store_throttle_key *keys,
                                    size_t n, int64_t now, int64_t window,
                                    int64_t ticket)
{
	const struct store_throttle_methods *m = s->ops->throttle;
	return m ? m->xCommit(s, keys, n, now, window, ticket) : STORE_INVALID;
}

enum store_rc store_throttle_release(struct store *s,
                                     const struct store_throttle_key *keys,
                                     size_t n, int64_t now, int64_t window,
                                     int64_t ticket, bool succeeded)
{
	const struct store_throttle_methods *m = s->ops->throttle;
	return m ? m->xRelease(s, keys, n, now, window, ticket, succeeded)
	         : STORE_INVALID;
}

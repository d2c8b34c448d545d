/*
 * claims.c: the test double's POST /_control/claims (docs/test-double.md):
 * extra claims for a user, or extra access-token claims for a client, set
 * at runtime and dropped by claims={} or /_control/reset.
 *
 * The mechanism is a wrapper around the store, as testdouble.c wraps the
 * route handlers: installed once, before the server starts, it replaces
 * the store's user and client tables (struct store_ops) with copies whose
 * reads (a user's xGet and xGetById, a client's xGet) merge the extras
 * into the record read: a user's claims, a client's access_token_claims.
 * Every path that reads a user or a client (tokens, userinfo, the ID
 * tokens of other work) then sees the extras without knowing of them,
 * and nothing is written to the database: the stored claims stay as the
 * CLI or the fixtures left them, so clearing is forgetting. Without the
 * test double the store is never wrapped.
 *
 * The same wrapper refuses logins (deny_login of /_control/faults): a
 * read by username made while a real endpoint serves (td_serving: only a
 * login reads a user by name there: the password grant, the login form,
 * auto_approve_as) finds no user for the next N attempts of a denied
 * username, so the login fails through the server's own path with its
 * own answer. The control endpoints and the admin API read on.
 *
 * Consequences, documented: the extras are per process and site (like
 * the clock and the faults: another instance on the same database does
 * not see them), and they apply to what is read after they are set
 * (tokens issued and userinfo answered afterwards; a token already
 * issued keeps its claims). The store's methods receive only the store,
 * whose ops are then the wrapper's own copy: each site's store finds
 * its wrapper from them.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grants_testing.h"
#include "log.h"
#include "strutil.h"
#include "testdouble_int.h"

struct claim_extras {
	pthread_mutex_t mu;
	json_t *users;   /* username -> object of claims */
	json_t *clients; /* client_id -> object of claims */
	json_t *denied;  /* username -> logins still to refuse */
	struct store *st;
	const struct store_ops *orig;
	struct store_ops ops;
	struct store_user_methods user;
	struct store_client_methods client;
};

_Thread_local struct td_site *td_serving;

/* The wrapper of store s: its ops are the wrapper's own copy (several
 * stores, one per site, are each wrapped by their own). */
static struct claim_extras *of(struct store *s)
{
	return (struct claim_extras *)(void *)((char *)(uintptr_t)s->ops -
	                                       offsetof(struct claim_extras,
	                                                ops));
}

/* ---- the store wrapper -------------------------------------------------- */

/* Merges the extras for key in map (if any) over the claims text *text. */
static void merge(struct claim_extras *x, json_t *map, const char *key,
                  char **text)
{
	if (key == NULL)
		return;
	pthread_mutex_lock(&x->mu);
	json_t *extra = json_object_get(map, key);
	json_t *o = extra != NULL ? claims_load(*text) : NULL;
	if (o != NULL)
		json_object_update(o, extra);
	pthread_mutex_unlock(&x->mu);
	if (o == NULL)
		return; /* none, or stored claims unreadable: left as they are */
	free(*text);
	*text = claims_dump(o);
	json_decref(o);
}

/* Whether a login of username is to fail now (and one fewer later). */
static bool denied(struct claim_extras *x, const char *username)
{
	pthread_mutex_lock(&x->mu);
	json_t *n = json_object_get(x->denied, username);
	bool deny = n != NULL;
	if (deny && json_integer_value(n) <= 1)
		json_object_del(x->denied, username);
	else if (deny)
		json_integer_set(n, json_integer_value(n) - 1);
	pthread_mutex_unlock(&x->mu);
	return deny;
}

static enum store_rc user_get(struct store *s, const char *username,
                              struct store_user *out)
{
	struct claim_extras *x = of(s);
	/* Only a read for a request to a real endpoint is a login: the
	 * control endpoints and the admin API read users too. */
	if (td_serving != NULL && denied(x, username)) {
		log_info("test double: login of %.128s refused (deny_login)",
		         username);
		return STORE_NOT_FOUND;
	}
	enum store_rc rc = x->orig->user->xGet(s, username, out);
	if (rc == STORE_OK)
		merge(x, x->users, out->username, &out->claims);
	return rc;
}

static enum store_rc user_get_by_id(struct store *s, const char *user_id,
                                    struct store_user *out)
{
	struct claim_extras *x = of(s);
	enum store_rc rc = x->orig->user->xGetById(s, user_id, out);
	if (rc == STORE_OK)
		merge(x, x->users, out->username, &out->claims);
	return rc;
}

static enum store_rc client_get(struct store *s, const char *client_id,
                                struct store_client *out)
{
	struct claim_extras *x = of(s);
	enum store_rc rc = x->orig->client->xGet(s, client_id, out);
	if (rc == STORE_OK)
		merge(x, x->clients, out->client_id,
		      &out->access_token_claims);
	return rc;
}

int claim_extras_install(struct td_site *td, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct claim_extras *x = xcalloc(1, sizeof(*x));
	pthread_mutex_init(&x->mu, NULL);
	x->users = json_object();
	x->clients = json_object();
	x->denied = json_object();
	x->st = td->store;
	x->orig = td->store->ops;
	x->ops = *x->orig;
	x->user = *x->orig->user;
	x->client = *x->orig->client;
	x->user.xGet = user_get;
	x->user.xGetById = user_get_by_id;
	x->client.xGet = client_get;
	x->ops.user = &x->user;
	x->ops.client = &x->client;
	td->claims = x;
	td->store->ops = &x->ops; /* before the server starts: no reader yet */
	return 0;
}

void claim_extras_free(struct td_site *td)
{
	struct claim_extras *x = td->claims;
	if (x == NULL)
		return;
	x->st->ops = x->orig;
	json_decref(x->users);
	json_decref(x->clients);
	json_decref(x->denied);
	pthread_mutex_destroy(&x->mu);
	free(x);
	td->claims = NULL;
}

void claim_extras_clear(struct td_site *td)
{
	struct claim_extras *x = td->claims;
	pthread_mutex_lock(&x->mu);
	json_object_clear(x->users);
	json_object_clear(x->clients);
	json_object_clear(x->denied);
	pthread_mutex_unlock(&x->mu);
}

void deny_login_arm(struct td_site *td, const char *username, long count)
{
	struct claim_extras *x = td->claims;
	pthread_mutex_lock(&x->mu);
	json_object_set_new(x->denied, username, json_integer(count));
	pthread_mutex_unlock(&x->mu);
}

void deny_login_clear(struct td_site *td)
{
	struct claim_extras *x = td->claims;
	pthread_mutex_lock(&x->mu);
	json_object_clear(x->denied);
	pthread_mutex_unlock(&x->mu);
}

void deny_login_list(struct td_site *td, json_t *faults)
{
	struct claim_extras *x = td->claims;
	const char *name;
	json_t *n;
	pthread_mutex_lock(&x->mu);
	json_object_foreach(x->denied, name, n)
		json_array_append_new(faults, json_pack("{s:s, s:I}", "deny_login",
		                                        name, "remaining",
		                                        json_integer_value(n)));
	pthread_mutex_unlock(&x->mu);
}

/* ---- POST /_control/claims ---------------------------------------------- */

/* The claims= parameter as an object of valid claims, or a refusal in
 * why (buf holds a composed message). */
static json_t *read_claims(const char *text, char *buf, size_t len,
                           const char **why)
{
	const char *name;
	json_t *o = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES,
	                                      NULL)
	                         : NULL;
	*why = NULL;
	if (!json_is_object(o)) {
		*why = "claims must be a JSON object (claims={} clears)";
	} else {
		const char *rule = claims_check(o, &name);
		if (rule != NULL && name != NULL) {
			snprintf(buf, len, "claim \"%.128s\": %s", name, rule);
			*why = buf;
		} else if (rule != NULL) {
			*why = rule;
		}
	}
	if (*why != NULL) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The answer: what is set for the user or client, and its claims as
 * every reader now sees them (stored, extras merged). */
static enum MHD_Result answer(struct srv_req *rq, struct claim_extras *x,
                              bool user, const char *key)
{
	struct store_user u = {0};
	struct store_client c = {0};
	enum store_rc rc = user ? store_user_get(x->st, key, &u)
	                        : store_client_get(x->st, key, &c);
	json_t *now = rc == STORE_OK
	                  ? claims_load(user ? u.claims : c.access_token_claims)
	                  : NULL;
	store_user_clear(&u);
	store_client_clear(&c);
	if (rc != STORE_OK)
		return respond_error(rq, oauth_from_store(rc, "test double claims",
		                         OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                                    "removed meanwhile")),
		                     control_no_store);
	pthread_mutex_lock(&x->mu);
	json_t *extra = json_object_get(user ? x->users : x->clients, key);
	json_t *set = extra != NULL ? json_deep_copy(extra) : json_object();
	pthread_mutex_unlock(&x->mu);
	return respond_json(rq, 200,
	                    json_pack("{s:s, s:o, s:o}", user ? "user" : "client",
	                              key, "extra_claims", set,
	                              user ? "claims" : "access_token_claims",
	                              now != NULL ? now : json_null()),
	                    control_no_store);
}

/* Whether the user or client exists: an unknown one is a 400 (a typo is
 * likelier than a wish to prepare claims for someone not there yet). */
static enum MHD_Result unknown(struct srv_req *rq, struct claim_extras *x,
                               bool user, const char *key, bool *missing)
{
	struct store_user u = {0};
	struct store_client c = {0};
	enum store_rc rc = user ? store_user_get(x->st, key, &u)
	                        : store_client_get(x->st, key, &c);
	store_user_clear(&u);
	store_client_clear(&c);
	*missing = rc != STORE_OK;
	if (rc == STORE_OK)
		return MHD_YES;
	return respond_error(rq, oauth_from_store(rc, "test double claims",
	                         OAUTH_FAIL(OAUTH_INVALID_REQUEST, user
	                                    ? "no such user"
	                                    : "no such client")),
	                     control_no_store);
}

/* POST user=NAME | client=ID, claims=OBJECT: sets the extras (replacing
 * the previous ones of that user or client; {} clears them). GET lists
 * every extra set. */
enum MHD_Result h_control_claims(struct srv_req *rq)
{
	struct td_site *td = rq->route->arg;
	struct claim_extras *x = td->claims;
	struct form f = {0};
	char buf[256];
	const char *why = NULL;
	if (!control_form(rq, &f)) {
		form_free(&f);
		return control_bad(rq, "malformed or repeated parameters");
	}
	if (strcmp(rq->method, "GET") == 0) {
		form_free(&f);
		pthread_mutex_lock(&x->mu);
		json_t *o = json_pack("{s:O, s:O}", "users", x->users,
		                      "clients", x->clients);
		json_t *copy = json_deep_copy(o);
		json_decref(o);
		pthread_mutex_unlock(&x->mu);
		return respond_json(rq, 200, copy, control_no_store);
	}
	const char *user = form_param(&f, "user");
	const char *client = form_param(&f, "client");
	if ((user == NULL) == (client == NULL)) {
		form_free(&f);
		return control_bad(rq, "give exactly one of user=NAME and client=ID");
	}
	json_t *claims = read_claims(form_get(&f, "claims"), buf, sizeof(buf),
	                             &why);
	if (claims == NULL) {
		form_free(&f);
		return control_bad(rq, why);
	}
	const char *key = user != NULL ? user : client;
	bool missing;
	enum MHD_Result r = unknown(rq, x, user != NULL, key, &missing);
	if (!missing) {
		json_t *map = user != NULL ? x->users : x->clients;
		pthread_mutex_lock(&x->mu);
		if (json_object_size(claims) == 0)
			json_object_del(map, key);
		else
			json_object_set(map, key, claims);
		pthread_mutex_unlock(&x->mu);
		if (client != NULL) /* the token endpoint's copy is now old */
			grants_forget_clients(td->grants);
		log_info("test double: %s %s: %zu extra claim(s)",
		         user != NULL ? "user" : "client", key,
		         json_object_size(claims));
		r = answer(rq, x, user != NULL, key);
	}
	json_decref(claims);
	form_free(&f);
	return r;
}

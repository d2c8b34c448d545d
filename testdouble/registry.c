/*
 * registry.c: /_control/clients and /_control/users, the clients and
 * users of a running test double. A POST of one JSON object with the
 * fixtures' keys adds it, or replaces the one of the same client_id or
 * username, through the fixtures' own reader and rules (fixtures.c, and
 * the client spec the CLI shares): one description of a client
 * everywhere. A form POST remove=ID removes one, with its tokens. GET
 * lists them as the CLI's --json shows them (never a hash). A change
 * holds from the next request: the token endpoint's client cache is
 * dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "grants_testing.h"
#include "log.h"
#include "strutil.h"
#include "testdouble_int.h"

struct kind {
	const char *list;   /* the fixtures' key: "clients" or "users" */
	const char *one;    /* the answer's key: "client" or "user" */
	const char *id_key; /* "client_id" or "username" */
	json_t *(*show)(struct store *st, const char *id, enum store_rc *rc);
	enum store_rc (*remove)(struct store *st, const char *id);
	enum store_rc (*list_all)(struct store *st, json_t *into);
};

/* ---- clients ------------------------------------------------------------ */

static json_t *client_show(struct store *st, const char *id,
                           enum store_rc *rc)
{
	struct store_client c = {0};
	*rc = store_client_get(st, id, &c);
	json_t *o = *rc == STORE_OK ? client_spec_json(&c, false, NULL) : NULL;
	store_client_clear(&c);
	return o;
}

static int add_client(const struct store_client *c, void *arg)
{
	json_array_append_new(arg, client_spec_json(c, false, NULL));
	return 0;
}

static enum store_rc clients_all(struct store *st, json_t *into)
{
	return store_client_list(st, add_client, into);
}

/* ---- users -------------------------------------------------------------- */

static json_t *user_show(struct store *st, const char *name,
                         enum store_rc *rc)
{
	struct store_user u = {0};
	*rc = store_user_get(st, name, &u);
	json_t *o = *rc == STORE_OK ? store_user_json(&u) : NULL;
	store_user_clear(&u);
	return o;
}

/* As `latchkey user remove`: the user, then whatever it was issued. */
static enum store_rc user_remove(struct store *st, const char *name)
{
	struct store_user u = {0};
	int n = 0;
	enum store_rc rc = store_user_get(st, name, &u);
	if (rc == STORE_OK)
		rc = store_user_remove(st, name);
	if (rc == STORE_OK)
		rc = store_subject_revoke(st, u.user_id, clock_now(), &n);
	store_user_clear(&u);
	return rc;
}

static int add_user(const struct store_user *u, void *arg)
{
	json_array_append_new(arg, store_user_json(u));
	return 0;
}

static enum store_rc users_all(struct store *st, json_t *into)
{
	return store_user_list(st, add_user, into);
}

static const struct kind clients = {"clients", "client", "client_id",
                                    client_show, store_client_remove,
                                    clients_all};
static const struct kind users = {"users", "user", "username", user_show,
                                  user_remove, users_all};

/* ---- the endpoints ------------------------------------------------------ */

static enum MHD_Result store_failed(struct srv_req *rq, enum store_rc rc,
                                    const char *what)
{
	return respond_error(rq, oauth_from_store(rc, what,
	                         OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL)),
	                     control_no_store);
}

static enum MHD_Result list(struct srv_req *rq, struct td_site *td,
                            const struct kind *k)
{
	json_t *a = json_array();
	enum store_rc rc = k->list_all(td->store, a);
	if (rc != STORE_OK) {
		json_decref(a);
		return store_failed(rq, rc, k->list);
	}
	return respond_json(rq, 200, json_pack("{s:o}", k->list, a),
	                    control_no_store);
}

/* One entry of the fixtures' format, applied as a fixtures file is. */
static enum MHD_Result put(struct srv_req *rq, struct td_site *td,
                           const struct kind *k)
{
	json_error_t jerr;
	json_t *obj = json_loadb(rq->body ? rq->body : "", rq->body_len,
	                         JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return control_bad(rq, "the body must be one JSON object with "
		                   "the keys of a fixtures entry");
	}
	const char *id = json_string_value(json_object_get(obj, k->id_key));
	enum store_rc rc = STORE_NOT_FOUND;
	json_t *before = id != NULL ? k->show(td->store, id, &rc) : NULL;
	json_decref(before);
	char err[512];
	json_t *root = json_pack("{s:[O]}", k->list, obj);
	int applied = fixtures_apply_json(td->store, rq->path, root, true, err,
	                                  sizeof(err));
	json_decref(root);
	if (applied != 0) {
		json_decref(obj);
		/* The fixtures' message: it names the key and what is wrong. */
		return control_bad(rq, err);
	}
	grants_forget_clients(td->grants);
	id = json_string_value(json_object_get(obj, k->id_key));
	enum store_rc shown;
	json_t *now = k->show(td->store, id, &shown);
	json_decref(obj);
	if (now == NULL)
		return store_failed(rq, shown, k->one);
	log_info("test double: %s %s", k->one,
	         rc == STORE_OK ? "replaced" : "added");
	return respond_json(rq, rc == STORE_OK ? 200 : 201,
	                    json_pack("{s:o, s:b}", k->one, now, "created",
	                              rc != STORE_OK),
	                    control_no_store);
}

static enum MHD_Result removal(struct srv_req *rq, struct td_site *td,
                               const struct kind *k)
{
	struct form f = {0};
	if (!control_form(rq, &f) || f.n != 1 ||
	    form_param(&f, "remove") == NULL) {
		form_free(&f);
		return control_bad(rq, "a form POST takes remove=ID alone; to "
		                   "add or replace, POST a JSON object");
	}
	char *id = xstrdup(form_param(&f, "remove"));
	form_free(&f);
	enum store_rc rc = k->remove(td->store, id);
	enum MHD_Result r;
	if (rc == STORE_NOT_FOUND) {
		r = respond_error(rq, OAUTH_FAIL(OAUTH_NOT_FOUND, k == &clients
		                                 ? "no such client"
		                                 : "no such user"),
		                  control_no_store);
	} else if (rc != STORE_OK) {
		r = store_failed(rq, rc, k->one);
	} else {
		grants_forget_clients(td->grants);
		log_info("test double: %s removed", k->one);
		r = respond_json(rq, 200, json_pack("{s:s, s:b}", k->id_key, id,
		                                    "removed", 1),
		                 control_no_store);
	}
	free(id);
	return r;
}

static bool json_body(struct srv_req *rq)
{
	const char *ct = req_header(rq, "Content-Type");
	return ct != NULL && strncasecmp(ct, "application/json", 16) == 0;
}

static enum MHD_Result serve(struct srv_req *rq, const struct kind *k)
{
	struct td_site *td = rq->route->arg;
	if (strcmp(rq->method, "POST") != 0)
		return list(rq, td, k);
	return json_body(rq) ? put(rq, td, k) : removal(rq, td, k);
}

enum MHD_Result h_control_clients(struct srv_req *rq)
{
	return serve(rq, &clients);
}

enum MHD_Result h_control_users(struct srv_req *rq)
{
	return serve(rq, &users);
}

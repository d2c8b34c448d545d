/*
 * journal.c: GET /_control/requests, the requests the server received,
 * so a test can assert what its client did ("refreshed exactly once",
 * "sent client_secret_post") without reading logs. Each request is noted
 * as its answer is queued (srv_on_answer), so a test that asks next
 * finds it there: what it asked (method, path, the
 * endpoint's role, its parameters), who it named (client id, how it
 * authenticated) and what it got (status, error code). Never a secret:
 * a parameter of the secret list below shows only that it was there
 * (true), one on neither list is only counted (its name could be a
 * secret), and of the Authorization header only its scheme. The /_control/
 * requests themselves are left out. Bounded: past JOURNAL_MAX the oldest
 * go, and the answer counts them.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "strutil.h"
#include "testdouble_int.h"

#define JOURNAL_MAX 1000

/* Parameters whose values a test may see: they name things, they prove
 * nothing. */
static const char *const shown[] = {
	"grant_type", "client_id", "scope", "username", "redirect_uri",
	"response_type", "response_mode", "state", "nonce",
	"code_challenge_method", "resource", "audience", "token_type_hint",
	"prompt", "max_age", "login_hint", "ui_locales", "acr_values",
	"display", "post_logout_redirect_uri", "client_assertion_type",
	"requested_token_type", "subject_token_type", "actor_token_type",
	"action",
};

/* Parameters that carry secrets: shown as present (true), never their
 * values. */
static const char *const secret[] = {
	"password", "client_secret", "code", "code_verifier", "refresh_token",
	"token", "client_assertion", "assertion", "subject_token",
	"actor_token", "device_code", "id_token_hint", "code_challenge",
	"csrf", "user_code", "dpop",
};

static bool listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

#define LISTED(name, list) listed(name, list, sizeof(list) / sizeof(list[0]))

/* Only names on the two lists appear: any other name may itself be a
 * secret (a password sent without "name=", a JSON body sent as a form),
 * so the others are only counted, in *others. */
static json_t *params_json(const struct form *f, size_t *others)
{
	json_t *o = json_object();
	*others = 0;
	for (size_t i = 0; i < f->n; i++) {
		const char *name = f->v[i].name, *v = f->v[i].value;
		if (LISTED(name, shown))
			json_object_set_new(o, name, v != NULL ? json_string(v)
			                                      : json_true());
		else if (LISTED(name, secret))
			json_object_set_new(o, name, json_true());
		else
			(*others)++;
	}
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* The site of a request, also one no route took (a path under a
 * tenant's prefix is the tenant's). */
static struct td_site *td_site_of(struct testdouble *td, struct srv_req *rq)
{
	if (rq->route != NULL) {
		for (size_t i = 0; i < td->nsites; i++)
			if (td->sites[i]->site == rq->route->site)
				return td->sites[i];
	}
	/* Unrouted: the tenant whose prefix the path is under, else the
	 * server's own (sites[0], whose prefix may be issuer_path). */
	for (size_t i = 1; i < td->nsites; i++) {
		const char *p = td->sites[i]->site->prefix;
		size_t n = strlen(p);
		if (strncmp(rq->path, p, n) == 0 &&
		    (rq->path[n] == '/' || rq->path[n] == '\0'))
			return td->sites[i];
	}
	return td->sites[0];
}

void journal_note(void *arg, struct srv_req *rq, int status)
{
	struct td_site *td = td_site_of(arg, rq);
	/* The test's own requests: the control routes, and what it meant
	 * for them. */
	if (rq->route != NULL ? rq->route->admit == loopback
	                      : strstr(rq->path, "/_control/") != NULL)
		return;
	struct req_facts f;
	req_facts_read(rq, td->cfg->max_params, &f);
	/* What the server made of it first; failing that, what it named. */
	const char *cid = rq->client_id ? rq->client_id : f.client_id;
	const char *gt = rq->grant_type ? rq->grant_type : f.grant_type;
	json_t *e = json_object();
	if (e == NULL) {
		req_facts_free(&f);
		return;
	}
	json_object_set_new(e, "method", json_string(rq->method));
	json_object_set_new(e, "path", json_string(rq->path));
	json_object_set_new(e, "role",
	                    str_or_null(rq->route ? rq->route->name : NULL));
	json_object_set_new(e, "grant_type", str_or_null(gt));
	json_object_set_new(e, "client_id", str_or_null(cid));
	json_object_set_new(e, "client_auth", str_or_null(f.client_auth));
	json_object_set_new(e, "authorization", str_or_null(f.auth_scheme));
	size_t others;
	json_object_set_new(e, "params", params_json(&f.form, &others));
	json_object_set_new(e, "other_params", json_integer((json_int_t)others));
	json_object_set_new(e, "status", json_integer(status));
	json_object_set_new(e, "error", str_or_null(rq->error));
	json_object_set_new(e, "time", json_integer(clock_now()));
	json_object_set_new(e, "request_id", json_string(rq->request_id));
	req_facts_free(&f);
	struct journal *j = &td->journal;
	pthread_mutex_lock(&j->mu);
	if (j->n == JOURNAL_MAX) {
		json_decref(j->ring[j->head]);
		j->head = (j->head + 1) % JOURNAL_MAX;
		j->n--;
		j->dropped++;
	}
	j->ring[(j->head + j->n) % JOURNAL_MAX] = e;
	j->n++;
	pthread_mutex_unlock(&j->mu);
}

void journal_init(struct td_site *td)
{
	struct journal *j = &td->journal;
	pthread_mutex_init(&j->mu, NULL);
	j->ring = xcalloc(JOURNAL_MAX, sizeof(*j->ring));
}

void journal_clear(struct td_site *td)
{
	struct journal *j = &td->journal;
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < j->n; i++)
		json_decref(j->ring[(j->head + i) % JOURNAL_MAX]);
	j->head = j->n = 0;
	j->dropped = 0;
	pthread_mutex_unlock(&j->mu);
}

void journal_free(struct td_site *td)
{
	if (td->journal.ring == NULL)
		return;
	journal_clear(td);
	free(td->journal.ring);
	pthread_mutex_destroy(&td->journal.mu);
}

/* Whether member name of e is the string v. */
static bool member_is(json_t *e, const char *name, const char *v)
{
	const char *s = json_string_value(json_object_get(e, name));
	return s != NULL && strcmp(s, v) == 0;
}

static bool matches(json_t *e, const char *endpoint, const char *client)
{
	if (endpoint != NULL && !member_is(e, "role", endpoint) &&
	    !member_is(e, "path", endpoint))
		return false;
	return client == NULL || member_is(e, "client_id", client);
}

/* GET [endpoint=ROLE|PATH] [client_id=ID]: the journal, oldest first;
 * POST clear=true empties it. */
enum MHD_Result h_control_requests(struct srv_req *rq)
{
	struct td_site *td = rq->route->arg;
	struct form f = {0};
	if (!control_form(rq, &f)) {
		form_free(&f);
		return control_bad(rq, "malformed or repeated parameters");
	}
	if (strcmp(rq->method, "POST") == 0) {
		bool clear = control_flag(form_param(&f, "clear"));
		form_free(&f);
		if (!clear)
			return control_bad(rq, "give clear=true");
		journal_clear(td);
		log_info("test double: request journal cleared");
		return respond_json(rq, 200, json_pack("{s:[], s:i}", "requests",
		                                       "dropped", 0),
		                    control_no_store);
	}
	const char *endpoint = form_param(&f, "endpoint");
	const char *client = form_param(&f, "client_id");
	struct journal *j = &td->journal;
	json_t *a = json_array();
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < j->n; i++) {
		json_t *e = j->ring[(j->head + i) % JOURNAL_MAX];
		if (matches(e, endpoint, client))
			json_array_append_new(a, json_deep_copy(e));
	}
	json_int_t dropped = (json_int_t)j->dropped;
	pthread_mutex_unlock(&j->mu);
	form_free(&f);
	return respond_json(rq, 200, json_pack("{s:o, s:I}", "requests", a,
	                                       "dropped", dropped),
	                    control_no_store);
}

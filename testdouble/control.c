/*
 * control.c: the test double's /_control/ endpoints (installed only
 * with test_double, admitted only for loopback clients: testdouble.c,
 * loopback.c) and the faults they arm. A test suite moves the server's
 * clock, makes the next requests to an endpoint fail or stall, wipes all
 * tokens, and lists what was issued. Every answer is JSON; parameters are
 * form fields.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grants_testing.h"
#include "log.h"
#include "testdouble_int.h"
#include "strutil.h"

#define MAX_FAULT_DELAY_MS 60000

#define MAX_RETRY_AFTER 86400

struct fault {
	const struct route *route;
	long remaining;
	int status;       /* 0 with delay_ms: a stall, then the real answer */
	char error[64];
	long delay_ms;
	long retry_after; /* -1: the server's own (1 on a 5xx, else none) */
	/* "" for any: only requests that name this client (facts.c) or ask
	 * for this grant type */
	char client_id[128];
	char grant_type[128];
	struct fault *next;
};


/* A whole number in [lo, hi]; false otherwise. */
static bool number(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static enum MHD_Result clock_json(struct srv_req *rq)
{
	return respond_json(rq, 200, json_pack("{s:I, s:I}", "now",
	                                       (json_int_t)clock_now(), "offset",
	                                       (json_int_t)clock_offset()),
	                    control_no_store);
}

/* POST advance=SECONDS moves time forward (or back, if negative);
 * reset=true undoes every move. GET tells the time. */
enum MHD_Result h_control_clock(struct srv_req *rq)
{
	struct form f = {0};
	long secs;
	enum MHD_Result r;
	if (!control_form(rq, &f)) {
		r = control_bad(rq, "malformed or repeated parameters");
	} else if (strcmp(rq->method, "GET") == 0) {
		r = clock_json(rq);
	} else if (control_flag(form_param(&f, "reset"))) {
		clock_reset();
		r = clock_json(rq);
	} else if (number(form_param(&f, "advance"), -315360000, 315360000,
	                  &secs)) {
		clock_advance(secs);
		log_info("test double: clock moved by %ld s (offset now %lld)",
		         secs, (long long)clock_offset());
		r = clock_json(rq);
	} else {
		r = control_bad(rq, "give advance=SECONDS or reset=true");
	}
	form_free(&f);
	return r;
}

/* The route a fault names: an endpoint's role or its path (never a
 * control endpoint, or a fault could lock the test out). */
static const struct route *fault_route(const struct td_site *s,
                                       const char *name)
{
	size_t pre = strlen(s->site->prefix);
	for (size_t k = 0; k < s->nroutes; k++) {
		const struct route *r = s->routes[k].route;
		/* A tenant's path with or without its prefix. */
		if (strcmp(r->name, name) == 0 || strcmp(r->path, name) == 0 ||
		    (strncmp(r->path, s->site->prefix, pre) == 0 &&
		     strcmp(r->path + pre, name) == 0))
			return r;
	}
	return NULL;
}

/* The row of the one error table (grants/oauth_err.c) an injected status
 * stands in for (docs/test-double.md): its code is the fault's unless one
 * is given, and its challenge is the one the endpoint would send (a 401
 * names Basic, or Bearer at the resource). A choice of row, not a
 * rendering: respond_error_as renders the answer. The table cannot give it
 * by status: access_denied, the documented 403, is a 400 row there (its
 * status plays no part in a redirect). */
static enum oauth_err fault_row(int status, const struct route *r)
{
	switch (status) {
	case 400: return OAUTH_INVALID_REQUEST;
	case 401: return strcmp(r->name, "resource") == 0 ||
	                         strcmp(r->name, "userinfo") == 0
	                     ? OAUTH_INVALID_TOKEN
	                     : OAUTH_INVALID_CLIENT;
	case 403: return OAUTH_ACCESS_DENIED;
	case 503: return OAUTH_TEMPORARILY_UNAVAILABLE;
	default: return OAUTH_SERVER_ERROR;
	}
}

static json_t *faults_json(struct td_site *s)
{
	json_t *a = json_array();
	for (struct fault *f = s->faults; f != NULL; f = f->next) {
		json_t *o = json_pack("{s:s, s:I}", "endpoint", f->route->path,
		                      "remaining", (json_int_t)f->remaining);
		if (f->status != 0) {
			json_object_set_new(o, "status", json_integer(f->status));
			json_object_set_new(o, "error", json_string(f->error));
		}
		if (f->delay_ms != 0)
			json_object_set_new(o, "delay_ms",
			                    json_integer(f->delay_ms));
		if (f->retry_after >= 0)
			json_object_set_new(o, "retry_after",
			                    json_integer(f->retry_after));
		if (f->client_id[0] != '\0')
			json_object_set_new(o, "client_id",
			                    json_string(f->client_id));
		if (f->grant_type[0] != '\0')
			json_object_set_new(o, "grant_type",
			                    json_string(f->grant_type));
		json_array_append_new(a, o);
	}
	return a;
}

static void faults_clear(struct td_site *s)
{
	while (s->faults != NULL) {
		struct fault *f = s->faults;
		s->faults = f->next;
		free(f);
	}
}

void faults_free(struct td_site *s)
{
	faults_clear(s);
}

/* POST endpoint=NAME|PATH [count=N] (status=CODE [error=CODE] |
 * delay_ms=MS) arms a fault for the next N requests to that endpoint;
 * clear=true drops them all. GET lists what is armed. */
enum MHD_Result h_control_faults(struct srv_req *rq)
{
	struct td_site *s = rq->route->arg;
	struct form f = {0};
	struct fault nf = {.retry_after = -1};
	long count = 1, status = 0, delay = 0;
	const char *err = NULL;

	if (!control_form(rq, &f)) {
		err = "malformed or repeated parameters";
	} else if (strcmp(rq->method, "POST") == 0 &&
	           control_flag(form_param(&f, "clear"))) {
		pthread_mutex_lock(&s->fault_mu);
		faults_clear(s);
		pthread_mutex_unlock(&s->fault_mu);
		deny_login_clear(s);
	} else if (strcmp(rq->method, "POST") == 0 &&
	           form_param(&f, "deny_login") != NULL) {
		const char *who = form_param(&f, "deny_login");
		if (form_param(&f, "count") &&
		    !number(form_param(&f, "count"), 1, 1000000, &count))
			err = "count must be 1 to 1000000";
		else if (f.n != (form_param(&f, "count") ? 2u : 1u))
			err = "deny_login takes only count";
		else if (strlen(who) > 256)
			err = "deny_login: that username is too long";
		if (err == NULL) {
			deny_login_arm(s, who, count);
			log_info("test double: next %ld login(s) of %.128s refused",
			         count, who);
		}
	} else if (strcmp(rq->method, "POST") == 0) {
		const char *ep = form_param(&f, "endpoint");
		const char *e = form_param(&f, "error");
		const char *cid = form_param(&f, "client_id");
		const char *gt = form_param(&f, "grant_type");
		nf.route = ep ? fault_route(s, ep) : NULL;
		if (nf.route == NULL)
			err = "endpoint must name an endpoint: authorize, token, "
			      "introspect, revoke, jwks, metadata, "
			      "openid_configuration, resource, userinfo, logout, "
			      "device_authorization, device, healthz, or its "
			      "path";
		else if (form_param(&f, "count") &&
		         !number(form_param(&f, "count"), 1, 1000000, &count))
			err = "count must be 1 to 1000000";
		else if (form_param(&f, "status") &&
		         !number(form_param(&f, "status"), 400, 599, &status))
			err = "status must be 400 to 599";
		else if (form_param(&f, "delay_ms") &&
		         !number(form_param(&f, "delay_ms"), 1,
		                 MAX_FAULT_DELAY_MS, &delay))
			err = "delay_ms must be 1 to 60000";
		else if ((status == 0) == (delay == 0))
			err = "give status (and error) or delay_ms";
		else if (form_param(&f, "retry_after") &&
		         (status == 0 ||
		          !number(form_param(&f, "retry_after"), 0,
		                  MAX_RETRY_AFTER, &nf.retry_after)))
			err = "retry_after must be 0 to 86400 seconds, with status";
		else if (cid != NULL && strlen(cid) >= sizeof(nf.client_id))
			err = "client_id is too long";
		else if (gt != NULL && strlen(gt) >= sizeof(nf.grant_type))
			err = "grant_type is too long";
		else if (e != NULL && (strlen(e) >= sizeof(nf.error) ||
		                       !scope_token_valid(e, strlen(e))))
			err = "error must be a short error code";
		if (err == NULL) {
			nf.remaining = count;
			nf.status = (int)status;
			nf.delay_ms = delay;
			snprintf(nf.client_id, sizeof(nf.client_id), "%s",
			         cid ? cid : "");
			snprintf(nf.grant_type, sizeof(nf.grant_type), "%s",
			         gt ? gt : "");
			snprintf(nf.error, sizeof(nf.error), "%s",
			         e ? e
			           : oauth_err_info(fault_row((int)status,
			                                      nf.route))->code);
			struct fault *p = xcalloc(1, sizeof(*p));
			*p = nf;
			pthread_mutex_lock(&s->fault_mu);
			/* Appended: faults fire in the order they were armed. */
			struct fault **pp = &s->faults;
			while (*pp != NULL)
				pp = &(*pp)->next;
			*pp = p;
			pthread_mutex_unlock(&s->fault_mu);
			log_info("test double: next %ld request(s) to %s: %s",
			         count, nf.route->path,
			         status ? "an injected error" : "a delay");
		}
	}
	form_free(&f);
	if (err != NULL)
		return control_bad(rq, err);
	pthread_mutex_lock(&s->fault_mu);
	json_t *list = faults_json(s);
	pthread_mutex_unlock(&s->fault_mu);
	deny_login_list(s, list);
	return respond_json(rq, 200, json_pack("{s:o}", "faults", list),
	                    control_no_store);
}

bool fault_fire(struct td_site *s, struct srv_req *rq, long *delay_ms,
                enum MHD_Result *ret)
{
	struct fault hit = {0};
	bool found = false;
	struct req_facts facts;
	bool read = false;

	pthread_mutex_lock(&s->fault_mu);
	for (struct fault **pp = &s->faults; *pp != NULL; pp = &(*pp)->next) {
		struct fault *f = *pp;
		if (f->route != rq->route)
			continue;
		if ((f->client_id[0] != '\0' || f->grant_type[0] != '\0') &&
		    !read) {
			req_facts_read(rq, s->cfg->max_params, &facts);
			read = true;
		}
		if (f->client_id[0] != '\0' &&
		    (facts.client_id == NULL ||
		     strcmp(facts.client_id, f->client_id) != 0))
			continue;
		if (f->grant_type[0] != '\0' &&
		    (facts.grant_type == NULL ||
		     strcmp(facts.grant_type, f->grant_type) != 0))
			continue;
		hit = *f;
		found = true;
		if (--f->remaining == 0) {
			*pp = f->next;
			free(f);
		}
		break;
	}
	pthread_mutex_unlock(&s->fault_mu);
	if (read)
		req_facts_free(&facts);
	if (!found)
		return false;
	if (hit.status == 0) {
		*delay_ms = hit.delay_ms;
		return false;
	}
	/* The endpoint's own answer to such a status, through the one
	 * renderer, marked so that a test can tell it from a real one. */
	char retry[24];
	snprintf(retry, sizeof(retry), "%ld", hit.retry_after);
	struct hdr h[] = {{"Cache-Control", "no-store"},
	                  {"X-Latchkey-Fault", "injected"},
	                  {"Retry-After", retry},
	                  {NULL, NULL}};
	if (hit.retry_after < 0)
		h[2] = (struct hdr){NULL, NULL};
	*ret = respond_error_as(rq, OAUTH_FAIL(fault_row(hit.status, rq->route),
	                                       "injected by /_control/faults"),
	                        hit.status, hit.error, h);
	return true;
}

/* Drops every token, code, session and consent, every armed fault and
 * every clock move, extra claim (claims.c) and counted login failure,
 * then applies the fixtures again. Resets run one at a time. */
static enum MHD_Result reset_locked(struct srv_req *rq, struct td_site *s,
                                    char *err, size_t errlen)
{
	pthread_mutex_lock(&s->fault_mu);
	faults_clear(s);
	pthread_mutex_unlock(&s->fault_mu);
	clock_reset();
	claim_extras_clear(s);
	journal_clear(s);
	grants_forget_failures(s->grants);
	grants_forget_clients(s->grants);
	enum store_rc rc = store_reset_tokens(s->store);
	if (rc != STORE_OK)
		return respond_error(rq, oauth_from_store_write(
		                             rc, "test double reset"),
		                     control_no_store);
	if (s->cfg->fixtures[0] != '\0' &&
	    fixtures_apply_tenant(s->store, s->cfg->fixtures, s->tenant,
	                          s->cfg->ephemeral != 0, err, errlen) != 0) {
		log_errx("test double reset: %s", err);
		return respond_error(rq, OAUTH_FAIL(OAUTH_SERVER_ERROR,
		                                    "the fixtures could not be "
		                                    "applied; see the log"),
		                     control_no_store);
	}
	log_info("test double: reset");
	return respond_json(rq, 200, json_pack("{s:b}", "reset", 1), control_no_store);
}

enum MHD_Result h_control_reset(struct srv_req *rq)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	struct td_site *s = rq->route->arg;
	char err[512] = "";
	struct form f = {0};
	bool ok = control_form(rq, &f); /* no parameters, but a form POST */
	form_free(&f);
	if (!ok)
		return control_bad(rq, "send a form POST (or none)");
	pthread_mutex_lock(&one_at_a_time);
	enum MHD_Result r = reset_locked(rq, s, err, sizeof(err));
	pthread_mutex_unlock(&one_at_a_time);
	return r;
}

/* The rows of GET /_control/tokens, in the shape tests read
 * (TOKEN_JSON_CONTROL; the members are token_json.c's). */
struct token_rows {
	json_t *rows;
	int64_t now;
};

static int add_access(const struct store_token *t, void *arg)
{
	struct token_rows *tr = arg;
	json_array_append_new(tr->rows, token_json_access(t, tr->now,
	                                                  TOKEN_JSON_CONTROL));
	return 0;
}

static int add_refresh(const struct store_refresh *r, void *arg)
{
	struct token_rows *tr = arg;
	json_array_append_new(tr->rows, token_json_refresh(r, tr->now,
	                                                   TOKEN_JSON_CONTROL));
	return 0;
}

/* GET [client_id=ID]: what has been issued (records, never tokens). */
enum MHD_Result h_control_tokens(struct srv_req *rq)
{
	struct form f = {0};
	if (!control_form(rq, &f)) {
		form_free(&f);
		return control_bad(rq, "malformed or repeated parameters");
	}
	const char *cid = form_param(&f, "client_id");
	struct store_token_filter tf = {.client_id = cid, .now = clock_now()};
	struct store_refresh_filter rf = {.client_id = cid, .now = clock_now()};
	struct token_rows at = {json_array(), tf.now};
	struct token_rows rt = {json_array(), rf.now};
	struct store *st = ((struct td_site *)rq->route->arg)->store;
	enum store_rc rc = store_token_list(st, &tf, add_access, &at);
	if (rc == STORE_OK)
		rc = store_refresh_list(st, &rf, add_refresh, &rt);
	form_free(&f);
	if (rc != STORE_OK) {
		json_decref(at.rows);
		json_decref(rt.rows);
		/* A listing has nothing to be missing: not found is a
		 * failure too. */
		return respond_error(rq, oauth_from_store(rc, "test double tokens",
		                         OAUTH_FAIL(OAUTH_SERVER_ERROR, NULL)),
		                     control_no_store);
	}
	return respond_json(rq, 200, json_pack("{s:o, s:o}", "access_tokens",
	                                       at.rows, "refresh_tokens",
	                                       rt.rows), control_no_store);
}

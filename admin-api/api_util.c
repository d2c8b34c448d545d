/*
 * api_util.c: what every handler of the admin API uses: answers (JSON,
 * errors from the one table of oauth_err.c), the JSON body and its
 * members, query parameters, a listing's page, and the audit trail.
 *
 * Errors have the shape of OAuth's ({"error", "error_description"}), so
 * one client-side check reads both APIs. A request's strict reading
 * (unknown members and parameters refused, types checked) is here, so a
 * typo in an automation script is a 400 naming it rather than a change
 * silently not made.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "clock.h"
#include "log.h"
#include "strutil.h"

/* ---- answers ------------------------------------------------------------ */

enum MHD_Result api_json(struct api_req *r, int status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (body != NULL && text == NULL)
		abort();
	struct MHD_Response *resp =
	    text != NULL
	        ? MHD_create_response_from_buffer(strlen(text), text,
	                                          MHD_RESPMEM_MUST_FREE)
	        : MHD_create_response_from_buffer(0, (char *)"",
	                                          MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (text != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	if (status == 405) /* RFC 9110 section 15.5.6 */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->challenge == OAUTH_CHALLENGE_BEARER) {
		/* RFC 6750 section 3: no error code when no token was sent */
		char ch[200];
		bool scope = r->error != NULL &&
		             strcmp(r->error, "insufficient_scope") == 0;
		snprintf(ch, sizeof(ch), "Bearer realm=\"latchkey-admin\"%s%s%s%s",
		         r->error != NULL ? ", error=\"" : "",
		         r->error != NULL ? r->error : "",
		         r->error != NULL ? "\"" : "",
		         scope ? ", scope=\"" CLIENT_ADMIN_SCOPE "\"" : "");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        ch);
	}
	enum MHD_Result res = MHD_queue_response(r->conn, (unsigned)status,
	                                         resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->responded = true;
	return res;
}

static enum MHD_Result error_answer(struct api_req *r, enum oauth_err e,
                                    const char *description)
{
	const struct oauth_err_info *info = oauth_err_info(e);
	r->error = info->code;
	r->challenge = info->challenge;
	/* The body always names an error, so a script reads one shape; a
	 * request without a token reads as invalid_token there. */
	const char *d = description != NULL ? description
	                : info->description != NULL
	                    ? info->description
	                    : "an access token with the scope "
	                      CLIENT_ADMIN_SCOPE " is required";
	return api_json(r, info->http_status,
	                json_pack("{s:s, s:o}", "error",
	                          info->code ? info->code : "invalid_token",
	                          "error_description", store_json_str(d)));
}

enum MHD_Result api_error(struct api_req *r, enum oauth_err e,
                          const char *fmt, ...)
{
	char msg[400];
	if (fmt == NULL)
		return error_answer(r, e, NULL);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Values from the request end up in messages: one printable ASCII
	 * line, so it is valid UTF-8 whatever was sent or cut short. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return error_answer(r, e, msg);
}

enum MHD_Result api_fail(struct api_req *r, struct oauth_result res)
{
	return error_answer(r, res.err, res.description);
}

enum MHD_Result api_not_found(struct api_req *r, const char *what,
                              const char *name)
{
	return api_error(r, OAUTH_NOT_FOUND, "%s '%.200s' not found", what,
	                 name);
}

enum MHD_Result api_store_fail(struct api_req *r, enum store_rc rc,
                               const char *doing, const char *what,
                               const char *name)
{
	switch (rc) {
	case STORE_NOT_FOUND:
		return api_not_found(r, what, name);
	case STORE_CONFLICT:
		return api_error(r, OAUTH_CONFLICT, "%s '%.200s' exists already, "
		                 "or changed meanwhile", what, name);
	case STORE_BAD_VALUE:
		return api_error(r, OAUTH_INVALID_REQUEST, "a value cannot be "
		                 "stored (text must be UTF-8)");
	case STORE_BUSY:
	case STORE_UNAVAILABLE:
	case STORE_IO:
	case STORE_STALE:
		log_warnx("admin API: %s: %s", doing, store_rc_str(rc));
		return api_error(r, OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
	default:
		log_errx("admin API: %s: %s", doing, store_rc_str(rc));
		return api_error(r, OAUTH_SERVER_ERROR, NULL);
	}
}

/* ---- the request -------------------------------------------------------- */

static bool in_list(const char *list, const char *name)
{
	return words_contains(list, name, strlen(name));
}

bool api_body(struct api_req *r, const char *allowed)
{
	if (r->body_len == 0) {
		r->in = json_object();
		return true;
	}
	const char *ct = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		api_error(r, OAUTH_INVALID_REQUEST, "the body must be JSON "
		          "(Content-Type: application/json)");
		return false;
	}
	json_error_t je;
	r->in = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (r->in == NULL || !json_is_object(r->in)) {
		api_error(r, OAUTH_INVALID_REQUEST, "the body must be a JSON "
		          "object%s%s", r->in == NULL ? ": " : "",
		          r->in == NULL ? je.text : "");
		return false;
	}
	const char *k;
	json_t *v;
	json_object_foreach(r->in, k, v)
		if (!in_list(allowed, k)) {
			api_error(r, OAUTH_INVALID_REQUEST, "unknown member "
			          "'%.100s'; this request takes: %s", k,
			          *allowed ? allowed : "none");
			return false;
		}
	return true;
}

const char *api_query(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

struct query_check {
	const char *allowed;
	const char *bad;
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
	struct query_check *q = cls;
	(void)kind;
	(void)value;
	if (!in_list(q->allowed, key)) {
		q->bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

bool api_user_lookup(struct api_req *r, const char *name,
                     struct store_user *u)
{
	if (name == NULL)
		return true;
	enum store_rc rc = store_user_get(r->api->st, name, u);
	if (rc != STORE_OK)
		api_store_fail(r, rc, "reading the user", "user", name);
	return rc == STORE_OK;
}

bool api_query_only(struct api_req *r, const char *allowed)
{
	struct query_check q = {.allowed = allowed};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
	if (q.bad == NULL)
		return true;
	api_error(r, OAUTH_INVALID_REQUEST, "unknown query parameter '%.100s'; "
	          "this request takes: %s", q.bad, *allowed ? allowed : "none");
	return false;
}

static bool wrong_type(struct api_req *r, const char *key, const char *want)
{
	api_error(r, OAUTH_INVALID_REQUEST, "member '%s' must be %s", key, want);
	return false;
}

bool api_in_str(struct api_req *r, const char *key, const char **out)
{
	json_t *v = json_object_get(r->in, key);
	if (v == NULL)
		return true;
	if (!json_is_string(v))
		return wrong_type(r, key, "a string");
	*out = json_string_value(v);
	return true;
}

bool api_in_bool(struct api_req *r, const char *key, bool *out)
{
	json_t *v = json_object_get(r->in, key);
	if (v == NULL)
		return true;
	if (!json_is_boolean(v))
		return wrong_type(r, key, "true or false");
	*out = json_is_true(v);
	return true;
}

bool api_in_int(struct api_req *r, const char *key, int64_t *out)
{
	json_t *v = json_object_get(r->in, key);
	if (v == NULL)
		return true;
	if (!json_is_integer(v))
		return wrong_type(r, key, "an integer");
	*out = json_integer_value(v);
	return true;
}

/* A whole number in [min, max] from text; false when it is not one. */
static bool whole(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool api_page(struct api_req *r, struct store_page *p, int64_t *matched)
{
	const char *limit = api_query(r, "limit"), *since = api_query(r, "since");
	*p = (struct store_page){.limit = API_LIMIT_DEFAULT, .matched = matched};
	*matched = 0;
	if (limit != NULL && !whole(limit, 1, API_LIMIT_MAX, &p->limit)) {
		api_error(r, OAUTH_INVALID_REQUEST, "limit must be a whole number "
		          "from 1 to %d", API_LIMIT_MAX);
		return false;
	}
	if (since != NULL && !whole(since, 0, INT64_MAX / 2, &p->since)) {
		api_error(r, OAUTH_INVALID_REQUEST, "since must be a time in "
		          "seconds since the epoch");
		return false;
	}
	return true;
}

enum MHD_Result api_listing(struct api_req *r, enum store_rc rc,
                            const char *key, json_t *rows, int64_t matched,
                            const char *doing)
{
	if (rc != STORE_OK) {
		json_decref(rows);
		return api_store_fail(r, rc, doing, "", "");
	}
	return api_json(r, 200, json_pack("{s:o, s:I}", key, rows, "total",
	                                   (json_int_t)matched));
}

/* ---- the audit trail ---------------------------------------------------- */

const char *api_object(char *buf, size_t len, const char *kind,
                       const char *name)
{
	snprintf(buf, len, "%s:%s", kind, name);
	return buf;
}

void api_audit(struct api_req *r, const char *action, const char *object,
               json_t *changes)
{
	char *text;
	enum store_rc rc = store_audit_record(r->api->st, clock_now(), r->actor,
	                                      r->addr, action, object, changes,
	                                      &text);
	log_msg(LOG_INFO, "audit", "%s from %s: %s %s %.900s%s", r->actor,
	        r->addr, action, object, text,
	        rc == STORE_OK ? "" : " (not recorded in the database)");
	free(text);
}

void api_audit_change(struct api_req *r, const char *action, const char *kind,
                      const char *name, json_t *before, json_t *after,
                      json_t *extra)
{
	char object[320];
	json_t *ch = store_audit_changes(before, after);
	if (extra != NULL) {
		json_object_update(ch, extra);
		json_decref(extra);
	}
	api_audit(r, action, api_object(object, sizeof(object), kind, name), ch);
}

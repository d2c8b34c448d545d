/*
 * api_audit.c: GET /admin/audit-events (the audit trail: the newest
 * `limit` events in the order they happened, filtered as `latchkey audit
 * list` is) and GET /admin/openapi.json, the document that describes this
 * API (admin-api/openapi.json, embedded at build time, and checked
 * against every answer of the e2e tests).
 */
#include <string.h>

#include "api_int.h"

static int list_one(const struct store_audit *e, void *arg)
{
	json_array_append_new(arg, store_audit_json(e));
	return 0;
}

enum MHD_Result api_audit_list(struct api_req *r)
{
	struct store_page p;
	int64_t matched;
	if (!api_query_only(r, "limit since object actor") ||
	    !api_page(r, &p, &matched))
		return MHD_YES;
	json_t *rows = json_array();
	const struct store_audit_filter f = {
		.page = &p, .object = api_query(r, "object"),
		.actor = api_query(r, "actor")};
	enum store_rc rc = store_audit_list(r->api->st, &f, list_one, rows);
	return api_listing(r, rc, "events", rows, matched,
	                   "listing audit events");
}

enum MHD_Result api_openapi(struct api_req *r)
{
	if (!api_query_only(r, ""))
		return MHD_YES;
	json_t *doc = json_loads(api_openapi_json, 0, NULL);
	if (doc == NULL) /* the build checks it parses: never */
		return api_error(r, OAUTH_SERVER_ERROR, NULL);
	return api_json(r, 200, doc);
}

/*
 * audit_changes.c: the "changes" of an audit event (store.h,
 * store_audit_changes): which fields of a record differ between before
 * and after, as old and new values; and an event as JSON. One rule for
 * every writer and reader of the audit trail: the admin CLI and the admin
 * HTTP API.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"

json_t *store_audit_changes(json_t *before, json_t *after)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	/* updated_at changes with everything: it says nothing; nor does a
	 * field that is null (unset) on the side that lacks the record. */
	json_object_foreach(after, k, v) {
		json_t *old = before != NULL ? json_object_get(before, k) : NULL;
		if (strcmp(k, "updated_at") == 0 ||
		    (old != NULL ? json_equal(old, v) : json_is_null(v)))
			continue;
		json_object_set_new(out, k, json_pack("{s:O, s:O}", "old",
		                                      old ? old : json_null(),
		                                      "new", v));
	}
	json_object_foreach(before, k, v)
		if (strcmp(k, "updated_at") != 0 && !json_is_null(v) &&
		    (after == NULL || json_object_get(after, k) == NULL))
			json_object_set_new(out, k, json_pack("{s:O, s:n}", "old",
			                                      v, "new"));
	json_decref(before);
	json_decref(after);
	return out;
}

json_t *store_audit_json(const struct store_audit *e)
{
	json_t *changes = json_loads(e->changes, 0, NULL);
	if (changes != NULL && !json_is_object(changes)) {
		json_decref(changes);
		changes = NULL;
	}
	return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "id",
	                 (json_int_t)e->id, "at", (json_int_t)e->at, "actor",
	                 store_json_str(e->actor), "address",
	                 store_json_str(e->address), "action",
	                 store_json_str(e->action), "object",
	                 store_json_str(e->object), "changes",
	                 changes != NULL ? changes : json_object());
}

enum store_rc store_audit_record(struct store *s, int64_t at,
                                 const char *actor, const char *address,
                                 const char *action, const char *object,
                                 json_t *changes, char **text)
{
	if (changes == NULL)
		changes = json_object();
	*text = json_dumps(changes, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(changes);
	if (*text == NULL)
		abort();
	struct store_audit e = {
		.at = at, .actor = (char *)actor, .address = (char *)address,
		.action = (char *)action, .object = (char *)object,
		.changes = *text};
	return store_audit_add(s, &e);
}

/*
 * fixture_tenants.c: the "tenants" of a fixtures file. Each is an issuer
 * of its own in the same process (docs/test-double.md, "Several issuers
 * in one process"): a name, the path its endpoints are served under,
 * and its clients and users in the format of the top level, which
 * fixtures.c applies to the tenant's own store. Read here, checked
 * whole before anything starts: names and paths unique, keys known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "strutil.h"
#include "testdouble.h"
#include "validate.h"

#define MAX_TENANTS 16

/* Cookie names carry it (lk_session-NAME), so it is a cookie token. */
static bool valid_tenant_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		          (i > 0 && (c == '-' || c == '_'));
		if (!ok)
			return false;
	}
	return true;
}

static json_t *load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		snprintf(err, errlen, "fixtures %s: line %d: %s", path, jerr.line,
		         jerr.text);
	return root;
}

/* Checks tenant i of the list; -1 with err. */
static int check_one(const char *path, json_t *list, size_t i, char *err,
                     size_t errlen)
{
	json_t *t = json_array_get(list, i);
	const char *name = json_string_value(json_object_get(t, "name"));
	const char *prefix = json_string_value(json_object_get(t, "path"));
	const char *key;
	json_t *v;
	if (!json_is_object(t)) {
		snprintf(err, errlen, "fixtures %s: tenants[%zu]: expected an "
		         "object", path, i);
		return -1;
	}
	json_object_foreach(t, key, v) {
		if (strcmp(key, "name") != 0 && strcmp(key, "path") != 0 &&
		    strcmp(key, "clients") != 0 && strcmp(key, "users") != 0) {
			snprintf(err, errlen, "fixtures %s: tenants[%zu]: unknown "
			         "key \"%.64s\": a tenant has \"name\", \"path\", "
			         "\"clients\" and \"users\"", path, i, key);
			return -1;
		}
	}
	if (name == NULL || !valid_tenant_name(name)) {
		snprintf(err, errlen, "fixtures %s: tenants[%zu]: field \"name\": "
		         "1 to 32 of a-z, 0-9, '-' and '_', starting with a "
		         "letter or digit", path, i);
		return -1;
	}
	if (prefix == NULL || !valid_prefix_path(prefix)) {
		snprintf(err, errlen, "fixtures %s: tenants[%zu] (%s): field "
		         "\"path\": %s", path, i, name, VALID_PREFIX_PATH_RULE);
		return -1;
	}
	for (size_t k = 0; k < i; k++) {
		json_t *o = json_array_get(list, k);
		if (strcmp(json_string_value(json_object_get(o, "name")), name) ==
		        0 ||
		    strcmp(json_string_value(json_object_get(o, "path")),
		           prefix) == 0) {
			snprintf(err, errlen, "fixtures %s: tenants[%zu] (%s): its "
			         "name or path is also tenants[%zu]'s", path, i,
			         name, k);
			return -1;
		}
	}
	return 0;
}

int fixtures_tenants(const char *path, struct fixture_tenant **out,
                     size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	json_t *root = load(path, err, errlen);
	if (root == NULL)
		return -1;
	json_t *list = json_object_get(root, "tenants");
	int rc = 0;
	if (list != NULL && (!json_is_array(list) ||
	                     json_array_size(list) > MAX_TENANTS)) {
		snprintf(err, errlen, "fixtures %s: \"tenants\" must be an array "
		         "of at most %d tenants", path, MAX_TENANTS);
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < json_array_size(list); i++)
		rc = check_one(path, list, i, err, errlen);
	if (rc == 0 && json_array_size(list) > 0) {
		*out = xcalloc(json_array_size(list), sizeof(**out));
		for (size_t i = 0; i < json_array_size(list); i++) {
			json_t *t = json_array_get(list, i);
			(*out)[i].name = xstrdup(
			    json_string_value(json_object_get(t, "name")));
			(*out)[i].path = xstrdup(
			    json_string_value(json_object_get(t, "path")));
		}
		*n = json_array_size(list);
	}
	json_decref(root);
	return rc;
}

void fixtures_tenants_free(struct fixture_tenant *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		free(t[i].path);
	}
	free(t);
}

int fixtures_apply_tenant(struct store *st, const char *path,
                          const char *tenant, bool fast_hash, char *err,
                          size_t errlen)
{
	if (tenant == NULL)
		return fixtures_apply(st, path, fast_hash, err, errlen);
	json_t *root = load(path, err, errlen);
	if (root == NULL)
		return -1;
	json_t *list = json_object_get(root, "tenants");
	int rc = -1;
	snprintf(err, errlen, "fixtures %s: no tenant \"%s\" any more", path,
	         tenant);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *t = json_array_get(list, i);
		const char *name = json_string_value(json_object_get(t, "name"));
		if (name == NULL || strcmp(name, tenant) != 0)
			continue;
		/* Its clients and users, in the top level's format. */
		json_t *part = json_pack("{}");
		json_t *v;
		if ((v = json_object_get(t, "clients")) != NULL)
			json_object_set(part, "clients", v);
		if ((v = json_object_get(t, "users")) != NULL)
			json_object_set(part, "users", v);
		char *label = NULL;
		if (asprintf(&label, "%s: tenants[%zu] (%s)", path, i, tenant) < 0)
			abort();
		rc = fixtures_apply_json(st, label, part, fast_hash, err, errlen);
		free(label);
		json_decref(part);
		break;
	}
	json_decref(root);
	return rc;
}

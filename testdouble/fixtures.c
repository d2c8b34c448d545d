/*
 * fixtures.c: latchkeyd's --fixtures FILE (docs/configuration.md,
 * "Fixtures"): OAuth clients with fixed ids and secrets and users with
 * passwords, read from a JSON file and written to the store at start-up
 * and again at each /_control/reset.
 *
 * A client's keys other than client_id and client_secret are the fields
 * of the client spec (store.h, storage/client_spec.c), which the admin
 * CLI's options set too: this file only reads JSON types into the spec's
 * values and words refusals in its own dialect ("field \"grants\": ...");
 * the rules (core/validate.c) and the defaults are the spec's. The
 * parser is strict (known keys, right types, no duplicates), because a
 * typo in a test fixture that is silently ignored costs more than one
 * that stops start-up with a message naming the file, the entry and the
 * field. Keys are read in the order the file gives them; the rules that
 * span keys are checked once the entry is read.
 *
 * Applying runs in three passes, so a bad file changes nothing: read and
 * check every entry; look up what exists and hash the secrets; write. A
 * client or user that exists is replaced, keeping its created_at (and a
 * user its user_id, the subject of its tokens). A stored hash that
 * already matches the fixture's secret in the wanted scheme is kept, so
 * applying a file again changes nothing but updated_at and the server's
 * cache of verified secrets stays valid.
 *
 * Fixtures are test data, so a secret shorter than a chosen secret must
 * be in the CLI is accepted; applied to a database that outlives the
 * process (not --ephemeral) it is logged as a warning. A client id that
 * starts with the user id prefix is refused, as by the CLI.
 *
 * Users may carry claims, and clients access_token_claims and
 * release_claims (docs/openid-connect.md, "Claims"); claims are checked
 * by claim_spec.c, as the CLI's --claim.
 *
 * JSON stays in this file: the store sees struct store_client and struct
 * store_user only. Plaintext secrets are borrowed from the parsed tree
 * and never copied; the file holds them in plain text anyway (test data).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "crypto.h"
#include "log.h"
#include "secret.h"
#include "testdouble.h"
#include "store.h"
#include "strutil.h"
#include "validate.h"

/* One client of the file and its plaintext secret (NULL: public). */
struct fx_client {
	struct store_client c;
	const char *secret;
	bool exists;
};

/* One user of the file and its plaintext password. */
struct fx_user {
	struct store_user u;
	const char *password;
	const char *sub; /* the user id the file fixes, borrowed; or NULL */
	bool exists;
	bool new_password; /* the stored hash changes */
	bool new_claims;   /* the stored claims change */
};

struct fx_kind;

/* The entries of one list of the file ("clients" or "users"). */
struct fx_set {
	const struct fx_kind *kind;
	char *entries; /* n entries of kind->size bytes */
	size_t n;
};

struct fixtures {
	const char *path;
	char *err;
	size_t errlen;
	bool fast_hash;
	int64_t now;
	/* Where the value being read sits, for messages: list[index], the
	 * entry's id once it is known to be valid, and the key. */
	const char *list;
	size_t index;
	const char *id;
	const char *field;
	struct fx_set sets[2]; /* in the order of kinds[] */
};

/* ---- errors ------------------------------------------------------------- */

/* Every error goes through here: "fixtures PATH: clients[0] (svc-a): field
 * "grants": MESSAGE". Values from the file end up in messages, so control
 * characters are replaced and a message stays one log line. */
static int fx_fail(struct fixtures *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fx_fail(struct fixtures *fx, const char *fmt, ...)
{
	char msg[512], where[256] = "";
	size_t n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fx->list != NULL)
		n += (size_t)snprintf(where, sizeof(where), ": %s[%zu]",
		                      fx->list, fx->index);
	if (fx->id != NULL && n < sizeof(where))
		n += (size_t)snprintf(where + n, sizeof(where) - n, " (%s)",
		                      fx->id);
	if (fx->field != NULL && n < sizeof(where))
		snprintf(where + n, sizeof(where) - n, ": field \"%s\"",
		         fx->field);
	snprintf(fx->err, fx->errlen, "fixtures %s%s: %s", fx->path, where,
	         msg);
	for (char *p = fx->err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number"; /* 2.0 and 2e3 too */
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* ---- the keys of an entry ----------------------------------------------- */

enum fx_type { FX_STRING, FX_BOOL, FX_INT, FX_LIST, FX_OBJECT };

static const char *const fx_type_name[] = {
	[FX_STRING] = "a string",
	[FX_BOOL] = "true or false",
	[FX_INT] = "an integer",
	[FX_LIST] = "an array of strings",
	[FX_OBJECT] = "an object",
};

static bool fx_type_ok(enum fx_type t, const json_t *v)
{
	switch (t) {
	case FX_STRING:
		return json_is_string(v);
	case FX_BOOL:
		return json_is_boolean(v);
	case FX_INT:
		return json_is_integer(v);
	case FX_LIST:
		return json_is_array(v);
	case FX_OBJECT:
		return json_is_object(v);
	}
	return false;
}

/* One key an entry may have besides a client's fields (fields[0] of a
 * kind is its id, required). set receives a value of the right type and
 * the entry (struct fx_client or struct fx_user); it returns 0 or
 * fx_fail's -1. */
struct fx_field {
	const char *key;
	enum fx_type type;
	bool required;
	int (*set)(struct fixtures *fx, void *entry, const json_t *v);
};

/* One list of the file: its entries' keys and what is done with each
 * entry in each pass. */
struct fx_kind {
	const char *key;               /* "clients" */
	const struct fx_field *fields; /* fields[0]: the id, required */
	size_t nfields;
	/* The entry is a struct fx_client: the client spec's fields
	 * (client_field_defs) are its other keys. */
	bool client_spec;
	size_t size;                   /* of one entry */
	const char *(*id)(const void *entry);
	/* Defaults and the rules that span keys; NULL: none. */
	int (*finish)(struct fixtures *fx, void *entry);
	/* Looks up the stored record and hashes the secret. */
	int (*prepare)(struct fixtures *fx, struct store *st, void *entry);
	int (*write)(struct fixtures *fx, struct store *st, const void *entry);
	void (*clear)(void *entry);
};

/* The file says "not set" by leaving a key out; the CLI's word
 * 'default' means nothing here. */
#define SERVER_SETTING "; leave the key out for the server's setting"

/* ---- clients: the keys --------------------------------------------------
 * client_id and client_secret are the file's own; every other key is a
 * field of the client spec (store.h, storage/client_spec.c), the table
 * the CLI's options use too: read_spec_field turns the JSON value into
 * the spec's value, and words a refusal in the file's dialect. */

static int set_client_id(struct fixtures *fx, void *e, const json_t *v)
{
	const char *rule = client_spec_id_rule(json_string_value(v));
	if (rule != NULL)
		return fx_fail(fx, "invalid client id \"%s\": %s",
		               json_string_value(v), rule);
	((struct fx_client *)e)->c.client_id = xstrdup(json_string_value(v));
	return 0;
}

/* Borrowed from the parsed tree; the secret stays out of the message. */
static int set_secret(struct fixtures *fx, void *e, const json_t *v)
{
	if (!valid_secret(json_string_value(v)))
		return fx_fail(fx, "invalid secret: " VALID_SECRET_RULE);
	((struct fx_client *)e)->secret = json_string_value(v);
	return 0;
}

/* The id key comes first: it is read before the others, so every later
 * message names the entry. */
static const struct fx_field client_fields[] = {
	{"client_id", FX_STRING, true, set_client_id},
	{"client_secret", FX_STRING, false, set_secret},
};

/* The JSON type each kind of spec value is written as. */
static const enum fx_type spec_type[] = {
	[CLIENT_V_TEXT] = FX_STRING,     [CLIENT_V_WORDS] = FX_LIST,
	[CLIENT_V_TTL] = FX_INT,         [CLIENT_V_POLICY] = FX_STRING,
	[CLIENT_V_APPROVER] = FX_STRING, [CLIENT_V_BOOL] = FX_BOOL,
	[CLIENT_V_TRISTATE] = FX_BOOL,   [CLIENT_V_CLAIMS] = FX_OBJECT,
	[CLIENT_V_JWKS] = FX_OBJECT,
};

/* An object of claims (users[].claims, a client's access_token_claims)
 * as stored, in *text (caller frees); the refusal names the claim. */
static int read_claims(struct fixtures *fx, const json_t *v, char **text)
{
	const char *bad;
	const char *why = claims_check(v, &bad);
	*text = NULL;
	if (why != NULL && bad != NULL)
		return fx_fail(fx, "claim \"%s\": %s", bad, why);
	if (why != NULL)
		return fx_fail(fx, "%s", why);
	*text = claims_dump(v);
	return 0;
}

/* The refusal of bad (a word or the value) for field f. */
static int spec_refused(struct fixtures *fx, enum client_field f,
                        const struct client_value *cv, const char *bad)
{
	const struct client_field_def *d = &client_field_defs[f];
	switch (d->type) {
	case CLIENT_V_TTL:
		return fx_fail(fx, "invalid lifetime %lld: %s" SERVER_SETTING,
		               (long long)cv->seconds, d->rule);
	case CLIENT_V_POLICY:
		return fx_fail(fx, "invalid policy \"%s\": %s" SERVER_SETTING,
		               bad, d->rule);
	case CLIENT_V_APPROVER:
		return fx_fail(fx, "invalid user \"%s\": a username (%s), or "
		               "\"\" for off" SERVER_SETTING, bad, d->rule);
	case CLIENT_V_JWKS:
		return fx_fail(fx, "invalid JWKS: %s", bad);
	default:
		return fx_fail(fx, "%s %s \"%s\": %s",
		               d->closed ? "unknown" : "invalid", d->what, bad,
		               d->rule);
	}
}

/* An array's items as strings (*words, caller frees), each checked. */
static int list_words(struct fixtures *fx, const json_t *arr,
                      const char ***words)
{
	size_t i;
	json_t *v;
	*words = xcalloc(json_array_size(arr) + 1, sizeof(**words));
	json_array_foreach(arr, i, v) {
		(*words)[i] = json_string_value(v);
		if ((*words)[i] == NULL)
			return fx_fail(fx, "item %zu: expected a string, got %s",
			               i, json_kind(v));
	}
	return 0;
}

/* Reads v, of the field's JSON type (read_field checked), into field f
 * of the client. Each word of a list is its own item: a file has no
 * 'default' and no space-separated shorthand. */
static int read_spec_field(struct fixtures *fx, struct fx_client *fc,
                           enum client_field f, const json_t *v)
{
	struct client_value cv = {.state = json_is_true(v) ? STORE_ON
	                                                   : STORE_OFF};
	const char *one = json_string_value(v);
	const char **words = NULL;
	char *bad = NULL;
	int rc = 0;
	cv.words = &one;
	cv.n = 1;
	cv.seconds = json_integer_value(v);
	/* 'default' is refused rather than taken as a username: it is the
	 * CLI's word for the server's setting. */
	if (f == CLIENT_F_AUTO_APPROVE && strcmp(one, "default") == 0)
		return spec_refused(fx, f, &cv, one);
	char *claims = NULL;
	if (json_is_array(v)) {
		rc = list_words(fx, v, &words);
		cv.words = words;
		cv.n = json_array_size(v);
	}
	if (json_is_object(v) && f == CLIENT_F_JWKS) {
		claims = json_dumps(v, JSON_COMPACT);
		cv.words = (const char *const *)&claims;
	} else if (json_is_object(v)) {
		rc = read_claims(fx, v, &claims);
		cv.words = (const char *const *)&claims;
	}
	if (rc == 0 && !client_spec_set(&fc->c, f, &cv, &bad))
		rc = spec_refused(fx, f, &cv, bad);
	free(bad);
	free(words);
	free(claims);
	return rc;
}

/* ---- users: the keys ----------------------------------------------------- */

static int set_username(struct fixtures *fx, void *e, const json_t *v)
{
	const char *name = json_string_value(v);
	if (!valid_username(name))
		return fx_fail(fx, "invalid username \"%s\": "
		               VALID_USERNAME_RULE, name);
	((struct fx_user *)e)->u.username = xstrdup(name);
	return 0;
}

/* Borrowed from the parsed tree, like a client's secret. */
static int set_password(struct fixtures *fx, void *e, const json_t *v)
{
	if (!valid_password_length(json_string_length(v)))
		return fx_fail(fx, "%s", VALID_PASSWORD_RULE);
	((struct fx_user *)e)->password = json_string_value(v);
	return 0;
}

/* Claims (docs/openid-connect.md, "Claims"): checked as the CLI's
 * --claim values are. */
static int set_user_claims(struct fixtures *fx, void *e, const json_t *v)
{
	struct fx_user *fu = e;
	free(fu->u.claims);
	return read_claims(fx, v, &fu->u.claims);
}

/* A fixed user id, the sub of the user's tokens, so that they are the
 * same in every run: as OpenID Connect Core 1.0 section 2 allows, up to
 * 255 ASCII characters (printable, no space). */
static int set_user_sub(struct fixtures *fx, void *e, const json_t *v)
{
	const char *sub = json_string_value(v);
	size_t n = json_string_length(v);
	bool ok = n > 0 && n <= 255;
	for (size_t i = 0; ok && i < n; i++)
		ok = sub[i] > ' ' && sub[i] < 0x7f;
	if (!ok)
		return fx_fail(fx, "a sub is 1 to 255 printable ASCII characters "
		               "without spaces");
	((struct fx_user *)e)->sub = sub;
	return 0;
}

static const struct fx_field user_fields[] = {
	{"username", FX_STRING, true, set_username},
	{"password", FX_STRING, true, set_password},
	{"claims", FX_OBJECT, false, set_user_claims},
	{"sub", FX_STRING, false, set_user_sub},
};

/* ---- looking up and hashing --------------------------------------------- */

/* What a lookup found: *exists, or a storage error reported as "reading
 * the WHAT". */
static int found(struct fixtures *fx, enum store_rc rc, const char *what,
                 bool *exists)
{
	*exists = rc == STORE_OK;
	if (rc == STORE_OK || rc == STORE_NOT_FOUND)
		return 0;
	return fx_fail(fx, "reading the %s: %s", what, store_rc_str(rc));
}

/* Sets *hash (caller frees) to what to store for plain: the stored hash
 * when it is of the wanted scheme and matches, else a new one. */
static int rehash(struct fixtures *fx, char **hash, const char *stored,
                  const char *plain, const char *what)
{
	if (stored != NULL && secret_hash_is_slow(stored) == !fx->fast_hash &&
	    secret_verify(stored, plain) == SECRET_OK)
		*hash = xstrdup(stored);
	else
		*hash = fx->fast_hash ? secret_hash_fast(plain)
		                      : secret_hash_slow(plain);
	if (*hash != NULL)
		return 0;
	return fx_fail(fx, "cannot hash the %s", what);
}

/* ---- clients: defaults, storing ----------------------------------------- */

static const char *client_ident(const void *e)
{
	return ((const struct fx_client *)e)->c.client_id;
}

static void client_clear(void *e)
{
	store_client_clear(&((struct fx_client *)e)->c);
}

/* The defaults and the rules that span keys: the client spec's, as
 * `latchkey client add`'s. */
static int client_finish(struct fixtures *fx, void *e)
{
	struct fx_client *fc = e;
	struct store_client *c = &fc->c;
	enum client_field where;
	fx->field = "client_secret";
	if (c->is_public && fc->secret != NULL)
		return fx_fail(fx, "a public client has no secret");
	if (client_spec_secretless(c) && fc->secret != NULL)
		return fx_fail(fx, client_spec_uses_keys(c)
		                       ? "a private_key_jwt client has no secret"
		                       : "a client of a TLS client certificate "
		                         "has no secret");
	/* The CLI would generate one, but a secret nobody knows makes a
	 * client nobody can use. */
	if (!c->is_public && !client_spec_secretless(c) && fc->secret == NULL)
		return fx_fail(fx, "required for a confidential client (or set "
		               "\"public\": true)");
	const char *why = client_spec_finish(c, &where);
	fx->field = client_field_defs[where].key;
	if (why != NULL)
		return fx_fail(fx, "%s", why);
	fx->field = NULL;
	return 0;
}

static int client_prepare(struct fixtures *fx, struct store *st, void *e)
{
	struct fx_client *fc = e;
	struct store_client old = {0};
	int rc = found(fx, store_client_get(st, fc->c.client_id, &old),
	               "client", &fc->exists);
	fc->c.created_at = fc->exists ? old.created_at : fx->now;
	fc->c.updated_at = fx->now;
	if (rc == 0 && fc->secret != NULL)
		rc = rehash(fx, &fc->c.secret_hash, old.secret_hash, fc->secret,
		            "secret");
	store_client_clear(&old);
	return rc;
}

static int client_write(struct fixtures *fx, struct store *st,
                        const void *e)
{
	const struct fx_client *fc = e;
	enum store_rc rc = fc->exists ? store_client_update(st, &fc->c)
	                              : store_client_add(st, &fc->c);
	if (rc != STORE_OK)
		return fx_fail(fx, "storing the client: %s", store_rc_str(rc));
	return 0;
}

/* ---- users: storing ----------------------------------------------------- */

static const char *user_ident(const void *e)
{
	return ((const struct fx_user *)e)->u.username;
}

static void user_clear(void *e)
{
	store_user_clear(&((struct fx_user *)e)->u);
}

/* A fixed sub must be this user's: not another user's, and not a
 * client's id (a token whose sub is its client's id is the client's
 * own); and a user stored under another sub keeps it. */
static int sub_free(struct fixtures *fx, struct store *st,
                    const struct fx_user *fu)
{
	fx->field = "sub";
	if (strcmp(fu->u.user_id, fu->sub) != 0)
		return fx_fail(fx, "user %s exists with another sub (%s); remove "
		               "it first", fu->u.username, fu->u.user_id);
	const struct fx_set *cs = &fx->sets[0], *us = &fx->sets[1];
	for (size_t i = 0; i < cs->n; i++)
		if (strcmp(client_ident(cs->entries + i * cs->kind->size),
		           fu->sub) == 0)
			return fx_fail(fx, "\"%s\" is a client's id", fu->sub);
	for (size_t i = 0; i < us->n; i++) {
		const struct fx_user *o =
		    (const void *)(us->entries + i * us->kind->size);
		if (o != fu && o->sub != NULL && strcmp(o->sub, fu->sub) == 0)
			return fx_fail(fx, "\"%s\" is also the sub of user %s",
			               fu->sub, o->u.username);
	}
	struct store_user other = {0};
	struct store_client c = {0};
	bool taken = false, client = false;
	int rc = found(fx, store_user_get_by_id(st, fu->sub, &other), "user",
	             &taken);
	if (rc == 0 && taken && strcmp(other.username, fu->u.username) != 0)
		rc = fx_fail(fx, "\"%s\" is the sub of user %s", fu->sub,
		             other.username);
	if (rc == 0)
		rc = found(fx, store_client_get(st, fu->sub, &c), "client",
		           &client);
	if (rc == 0 && client)
		rc = fx_fail(fx, "\"%s\" is a client's id", fu->sub);
	store_user_clear(&other);
	store_client_clear(&c);
	if (rc == 0)
		fx->field = NULL;
	return rc;
}

/* A user that exists keeps its user_id, the subject of its tokens. */
static int user_prepare(struct fixtures *fx, struct store *st, void *e)
{
	struct fx_user *fu = e;
	struct store_user old = {0};
	int rc = found(fx, store_user_get(st, fu->u.username, &old), "user",
	               &fu->exists);
	fu->u.created_at = fu->exists ? old.created_at : fx->now;
	fu->u.updated_at = fx->now;
	if (rc == 0)
		rc = rehash(fx, &fu->u.password_hash, old.password_hash,
		            fu->password, "password");
	/* A user without the key has none: the file says what it has. */
	if (fu->u.claims == NULL)
		fu->u.claims = xstrdup("{}");
	if (rc == 0 && fu->exists) {
		fu->u.user_id = xstrdup(old.user_id);
		fu->new_password = strcmp(fu->u.password_hash,
		                          old.password_hash) != 0;
		fu->new_claims = old.claims == NULL ||
		                 strcmp(fu->u.claims, old.claims) != 0;
	} else if (rc == 0) {
		fu->u.user_id = fu->sub ? xstrdup(fu->sub)
		                        : crypto_random_user_id();
		if (fu->u.user_id == NULL)
			rc = fx_fail(fx, "cannot generate a user id");
	}
	if (rc == 0 && fu->sub != NULL)
		rc = sub_free(fx, st, fu);
	store_user_clear(&old);
	return rc;
}

/* A user whose password is unchanged is left alone. A new password ends
 * the user's browser sessions, as `latchkey user passwd` does: whoever
 * knew the old one must not stay signed in at /authorize. */
static int user_write(struct fixtures *fx, struct store *st, const void *e)
{
	const struct fx_user *fu = e;
	enum store_rc rc = STORE_OK;
	int ended = 0;
	if (!fu->exists)
		rc = store_user_add(st, &fu->u);
	else if (fu->new_password)
		rc = store_user_set_password(st, fu->u.username,
		                             fu->u.password_hash,
		                             fu->u.updated_at);
	if (rc == STORE_OK && fu->exists && fu->new_claims)
		rc = store_user_set_claims(st, fu->u.username, fu->u.claims,
		                           fu->u.updated_at);
	if (rc == STORE_OK && fu->new_password)
		rc = store_sessions_end_user(st, fu->u.user_id, &ended);
	if (rc != STORE_OK)
		return fx_fail(fx, "storing the user: %s", store_rc_str(rc));
	return 0;
}

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

static const struct fx_kind kinds[] = {
	{"clients", client_fields, COUNT(client_fields), true,
	 sizeof(struct fx_client), client_ident, client_finish, client_prepare,
	 client_write, client_clear},
	{"users", user_fields, COUNT(user_fields), false, sizeof(struct fx_user),
	 user_ident, NULL, user_prepare, user_write, user_clear},
};
#define NKINDS COUNT(kinds)
_Static_assert(NKINDS == sizeof(((struct fixtures *)0)->sets) /
                             sizeof(struct fx_set),
               "one set per kind");

/* ---- reading ------------------------------------------------------------ */

/* Keys people are likely to write for a known one: the names `latchkey
 * client show --json` prints, and near misses. */
static const char *const key_hints[][2] = {
	{"grant_types", "grants"},
	{"secret", "client_secret"},
	{"id", "client_id"},
	{"scope", "scopes"},
	{"redirect_uri", "redirect_uris"},
	{"is_public", "public"},
	{"audience", "audiences"},
	{"aud", "audiences"},
	{"user", "username"},
	{"name", "username"},
};

/* The kind's own field named key, or NULL. */
static const struct fx_field *own_field(const struct fx_kind *k,
                                        const char *key)
{
	for (size_t i = 0; i < k->nfields; i++)
		if (strcmp(k->fields[i].key, key) == 0)
			return &k->fields[i];
	return NULL;
}

/* The client spec's field named key, or CLIENT_F__MAX. */
static enum client_field spec_field(const struct fx_kind *k, const char *key)
{
	int f = 0;
	while (k->client_spec && f < CLIENT_F__MAX &&
	       strcmp(client_field_defs[f].key, key) != 0)
		f++;
	return k->client_spec ? (enum client_field)f : CLIENT_F__MAX;
}

static bool known_key(const struct fx_kind *k, const char *key)
{
	return own_field(k, key) != NULL ||
	       spec_field(k, key) != CLIENT_F__MAX;
}

static int unknown_key(struct fixtures *fx, const struct fx_kind *k,
                       const char *key)
{
	for (size_t i = 0; i < COUNT(key_hints); i++)
		if (strcmp(key, key_hints[i][0]) == 0 &&
		    known_key(k, key_hints[i][1]))
			return fx_fail(fx, "unknown key \"%s\" (did you mean "
			               "\"%s\"?)", key, key_hints[i][1]);
	return fx_fail(fx, "unknown key \"%s\"", key);
}

/* Checks that v (the value of key; NULL when absent) is of type and
 * there when required, naming key in messages from here on. */
static int check_value(struct fixtures *fx, const char *key, const json_t *v,
                       enum fx_type type, bool required)
{
	fx->field = key;
	if (v == NULL && required)
		return fx_fail(fx, "required");
	if (v != NULL && !fx_type_ok(type, v))
		return fx_fail(fx, "expected %s, got %s", fx_type_name[type],
		               json_kind(v));
	return 0;
}

/* Reads the key f of obj into entry, if it is there. */
static int read_field(struct fixtures *fx, const struct fx_field *f,
                      const json_t *obj, void *entry)
{
	const json_t *v = json_object_get(obj, f->key);
	int rc = check_value(fx, f->key, v, f->type, f->required);
	if (rc == 0 && v != NULL)
		rc = f->set(fx, entry, v);
	if (rc == 0)
		fx->field = NULL;
	return rc;
}

/* Reads one key of an entry other than its id: the kind's own, or a
 * field of the client spec. */
static int read_key(struct fixtures *fx, const struct fx_kind *k,
                    const char *key, const json_t *obj, void *entry)
{
	const struct fx_field *own = own_field(k, key);
	if (own != NULL)
		return read_field(fx, own, obj, entry);
	enum client_field f = spec_field(k, key);
	const json_t *v = json_object_get(obj, key);
	int rc = check_value(fx, key, v,
	                     spec_type[client_field_defs[f].type], false);
	if (rc == 0)
		rc = read_spec_field(fx, entry, f, v);
	if (rc == 0)
		fx->field = NULL;
	return rc;
}

/* Reads one entry: the id key first (required, and unique in the list),
 * so every later message names the entry; then a check that every key is
 * known; then the other keys as the file has them, each handed to the
 * table that owns it. The rules that span keys (a public client's
 * grants) wait for finish. */
static int read_entry(struct fixtures *fx, const struct fx_set *set,
                      const json_t *obj, void *entry)
{
	const struct fx_kind *k = set->kind;
	if (!json_is_object(obj))
		return fx_fail(fx, "expected an object, got %s", json_kind(obj));
	if (read_field(fx, &k->fields[0], obj, entry) != 0)
		return -1;
	const char *id = k->id(entry);
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(k->id(set->entries + i * k->size), id) == 0) {
			fx->field = k->fields[0].key;
			return fx_fail(fx, "\"%s\" is also %s[%zu]", id, k->key,
			               i);
		}
	}
	fx->id = id;
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		if (!known_key(k, key))
			return unknown_key(fx, k, key);
	}
	json_object_foreach((json_t *)obj, key, val) {
		if (strcmp(key, k->fields[0].key) != 0 &&
		    read_key(fx, k, key, obj, entry) != 0)
			return -1;
	}
	for (size_t i = 1; i < k->nfields; i++)
		if (k->fields[i].required &&
		    json_object_get(obj, k->fields[i].key) == NULL)
			return read_field(fx, &k->fields[i], obj, entry);
	return k->finish != NULL ? k->finish(fx, entry) : 0;
}

static int read_list(struct fixtures *fx, struct fx_set *set,
                     const json_t *arr)
{
	const struct fx_kind *k = set->kind;
	size_t i;
	json_t *obj;
	if (!json_is_array(arr))
		return fx_fail(fx, "\"%s\": expected an array, got %s", k->key,
		               json_kind(arr));
	/* One more than needed: calloc(0) may return NULL. */
	set->entries = xcalloc(json_array_size(arr) + 1, k->size);
	fx->list = k->key;
	json_array_foreach(arr, i, obj) {
		void *entry = set->entries + i * k->size;
		fx->index = i;
		fx->id = NULL;
		if (read_entry(fx, set, obj, entry) != 0) {
			k->clear(entry);
			return -1;
		}
		set->n++; /* owned by the set from here on */
	}
	fx->list = NULL;
	fx->id = NULL;
	return 0;
}

/* The top level: an object with a "clients" and/or a "users" array,
 * and the "tenants" fixture_tenants.c reads. */
static int read_file(struct fixtures *fx, const json_t *root)
{
	if (!json_is_object(root))
		return fx_fail(fx, "expected an object with \"clients\" and "
		               "\"users\", got %s", json_kind(root));
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)root, key, val) {
		size_t i = 0;
		while (i < NKINDS && strcmp(key, kinds[i].key) != 0)
			i++;
		if (i == NKINDS && strcmp(key, "tenants") != 0)
			return fx_fail(fx, "unknown key \"%s\": the file has "
			               "\"clients\", \"users\" and \"tenants\"",
			               key);
	}
	for (size_t i = 0; i < NKINDS; i++) {
		const json_t *arr = json_object_get(root, kinds[i].key);
		if (arr != NULL && read_list(fx, &fx->sets[i], arr) != 0)
			return -1;
	}
	return 0;
}

/* ---- applying ----------------------------------------------------------- */

/* Issue 12, defect 10: the CLI refuses chosen secrets this short. In a
 * database that outlives the process such a client can be guessed at the
 * token endpoint, so say so (the secret itself stays out of the log). */
static void warn_weak_secrets(const struct fixtures *fx)
{
	const struct fx_set *set = &fx->sets[0];
	for (size_t i = 0; i < set->n; i++) {
		const struct fx_client *fc =
		    (const void *)(set->entries + i * set->kind->size);
		if (fc->secret != NULL && !valid_secret_chosen(fc->secret))
			log_warnx("%s: client %s has a secret shorter than %d "
			          "characters, and this database is not "
			          "--ephemeral: fine for tests, not for real "
			          "clients", fx->path, fc->c.client_id,
			          VALID_SECRET_CHOSEN_MIN);
	}
}

/* Prepares (or, with write, stores) every entry, each named in messages.
 * Stops at the first failure. */
static int each_entry(struct fixtures *fx, struct store *st, bool write)
{
	for (size_t s = 0; s < NKINDS; s++) {
		struct fx_set *set = &fx->sets[s];
		const struct fx_kind *k = set->kind;
		fx->list = k->key;
		for (size_t i = 0; i < set->n; i++) {
			void *e = set->entries + i * k->size;
			fx->index = i;
			fx->id = k->id(e);
			int rc = write ? k->write(fx, st, e)
			               : k->prepare(fx, st, e);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static void fixtures_clear(struct fixtures *fx)
{
	for (size_t s = 0; s < NKINDS; s++) {
		struct fx_set *set = &fx->sets[s];
		for (size_t i = 0; i < set->n; i++)
			set->kind->clear(set->entries + i * set->kind->size);
		free(set->entries);
		set->entries = NULL;
		set->n = 0;
	}
}

int fixtures_apply(struct store *st, const char *path, bool fast_hash,
                   char *err, size_t errlen)
{
	json_error_t jerr;
	/* Duplicate keys would make one of two values silently win. */
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		struct fixtures fx = {.path = path, .err = err, .errlen = errlen};
		return jerr.line > 0
		           ? fx_fail(&fx, "line %d column %d: %s", jerr.line,
		                     jerr.column, jerr.text)
		           : fx_fail(&fx, "%s", jerr.text);
	}
	int rc = fixtures_apply_json(st, path, root, fast_hash, err, errlen);
	json_decref(root);
	return rc;
}

int fixtures_apply_json(struct store *st, const char *path,
                        const json_t *root, bool fast_hash, char *err,
                        size_t errlen)
{
	struct fixtures fx = {
		.path = path, .err = err, .errlen = errlen,
		.fast_hash = fast_hash, .now = clock_now(),
	};
	for (size_t i = 0; i < NKINDS; i++)
		fx.sets[i].kind = &kinds[i];
	/* Everything is read and checked, then everything is hashed, before
	 * the first write: a bad file changes nothing. */
	int rc = read_file(&fx, root);
	if (rc == 0)
		rc = each_entry(&fx, st, false);
	if (rc == 0)
		rc = each_entry(&fx, st, true);
	if (rc == 0)
		log_info("%s: applied %zu client(s) and %zu user(s) (%s "
		         "hashes)", path, fx.sets[0].n, fx.sets[1].n,
		         fast_hash ? "fast HMAC-SHA256" : "Argon2id");
	/* fast_hash is exactly --ephemeral (server/main.c). */
	if (rc == 0 && !fast_hash)
		warn_weak_secrets(&fx);
	fixtures_clear(&fx);
	return rc;
}

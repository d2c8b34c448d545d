/*
 * fuzz_form.c: server/form.c, which reads every form body (/token,
 * /introspect, /revoke, /authorize, /_control/) and query string
 * (/authorize, /resource). The input is the raw body, as the server
 * buffers it (it may hold any byte, NUL included), and, NUL-terminated, a
 * Content-Type value.
 *
 * Beyond "no crash, no leak", it checks what the rest of the server relies
 * on: a parsed form never holds an empty name or a NUL inside a value, its
 * lookups agree with each other, and every parsed form survives a round
 * trip (encode each pair again, parse, get the same pairs back).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "server_int.h"

#define MAX_PARAMS 32 /* as handlers.c and authorize.c */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* The number of pairs form_parse counts against max_params: the
 * '&'-separated pieces that are not empty. */
static size_t count_pairs(const char *s, size_t len)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '&') {
			n += i > start;
			start = i + 1;
		}
	}
	return n;
}

static void check_lookups(const struct form *f)
{
	const char *rep = form_repeated(f);
	bool any_repeated = false;
	for (size_t i = 0; i < f->n; i++) {
		const char *name = f->v[i].name, *value = f->v[i].value;
		fz_check(name != NULL && value != NULL && name[0] != '\0');
		size_t count = form_count(f, name);
		fz_check(count >= 1);
		any_repeated = any_repeated || count > 1;
		/* form_get answers with the first pair of that name. */
		const char *got = form_get(f, name);
		fz_check(got != NULL);
		if (form_count(f, name) == 1)
			fz_check(got == value);
		const char *p = form_param(f, name);
		fz_check(p == (got[0] != '\0' ? got : NULL));
	}
	fz_check((rep != NULL) == any_repeated);
	if (rep != NULL)
		fz_check(form_count(f, rep) > 1);
}

/* Encodes every pair again (a different spelling each time: '+' or %20,
 * upper or lower case hex) and parses the result: the same pairs must come
 * back, in order. */
static void check_round_trip(const struct form *f, unsigned variant)
{
	size_t cap = 1, used = 0;
	for (size_t i = 0; i < f->n; i++)
		cap += 3 * (strlen(f->v[i].name) + strlen(f->v[i].value)) + 2;
	char *body = fz_xmalloc(cap);
	body[0] = '\0';
	for (size_t i = 0; i < f->n; i++) {
		char *n = fz_form_encode(f->v[i].name, variant & 1, variant & 2);
		char *v = fz_form_encode(f->v[i].value, variant & 2, variant & 1);
		used += (size_t)snprintf(body + used, cap - used, "%s%s=%s",
		                         i ? "&" : "", n, v);
		free(n);
		free(v);
	}
	struct form g;
	fz_check(form_parse(body, used, MAX_PARAMS, &g) == FORM_OK);
	fz_check(g.n == f->n);
	for (size_t i = 0; i < f->n; i++) {
		fz_check(strcmp(g.v[i].name, f->v[i].name) == 0);
		fz_check(strcmp(g.v[i].value, f->v[i].value) == 0);
	}
	form_free(&g);
	free(body);
}

/* form_decode on the whole input: when it succeeds, each of the n '%'
 * escapes became one byte, and none of them a NUL (strlen sees them all). */
static void check_decode(const char *s, size_t len)
{
	char *d = form_decode(s, len);
	if (d == NULL)
		return;
	size_t escapes = 0;
	for (size_t i = 0; i < len; i++)
		escapes += s[i] == '%';
	fz_check(memchr(s, '\0', len) == NULL);
	fz_check(strlen(d) == len - 2 * escapes);
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly size bytes, so ASan sees any read past the
	 * end of the body (the server's body buffer is not NUL-terminated
	 * for the parser's sake). */
	char *body = fz_xmalloc(size);
	if (size > 0)
		memcpy(body, data, size);

	struct form f;
	enum form_rc rc = form_parse(body, size, MAX_PARAMS, &f);
	if (rc == FORM_OK) {
		fz_check(f.n <= MAX_PARAMS);
		fz_check(f.n == count_pairs(body, size));
		check_lookups(&f);
		check_round_trip(&f, (unsigned)size);
	} else {
		/* A refused form is left empty. */
		fz_check(f.n == 0 && f.v == NULL);
		if (rc == FORM_TOO_MANY)
			fz_check(count_pairs(body, size) > MAX_PARAMS);
	}
	form_free(&f);

	check_decode(body, size);
	free(body);

	char *ct = fz_cstr(data, size);
	(void)form_content_type(ct);
	free(ct);
	return 0;
}

/*
 * form.c: a strict application/x-www-form-urlencoded reader (WHATWG URL
 * "application/x-www-form-urlencoded parsing", with errors instead of
 * repairs).
 *
 * libmicrohttpd's post processor is lenient by design (it passes broken
 * escapes through and may deliver a value in pieces); OAuth wants the
 * opposite: a malformed or repeated parameter is invalid_request (RFC 6749
 * section 3.2), so this small reader does exactly that and no more.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *form_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t n = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			/* A broken escape, or %00 which C strings cannot carry. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '\0') {
			free(out);
			return NULL;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

enum form_rc form_parse(const char *s, size_t len, size_t max_params,
                        struct form *out)
{
	memset(out, 0, sizeof(*out));
	size_t i = 0;
	while (i < len) {
		const char *amp = memchr(s + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - s) : len;
		if (end > i) { /* empty pairs ("a=1&&b=2") are skipped */
			if (out->n == max_params) {
				form_free(out);
				return FORM_TOO_MANY;
			}
			const char *eq = memchr(s + i, '=', end - i);
			size_t nlen = eq ? (size_t)(eq - (s + i)) : end - i;
			char *name = form_decode(s + i, nlen);
			char *value = eq ? form_decode(eq + 1, (size_t)(s + end - eq - 1))
			                 : xstrdup("");
			if (name == NULL || value == NULL || name[0] == '\0') {
				free(name);
				crypto_free_str(value);
				form_free(out);
				return FORM_MALFORMED;
			}
			struct form_param *v = realloc(out->v, (out->n + 1) * sizeof(*v));
			if (v == NULL)
				abort();
			out->v = v;
			out->v[out->n].name = name;
			out->v[out->n].value = value;
			out->n++;
		}
		i = end + 1;
	}
	return FORM_OK;
}

const char *form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value;
	return NULL;
}

const char *form_repeated(const struct form *f)
{
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = i + 1; j < f->n; j++)
			if (strcmp(f->v[i].name, f->v[j].name) == 0)
				return f->v[i].name;
	return NULL;
}

const char *form_too_long(const struct form *f, size_t max,
                          const char *except)
{
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->v[i].value) > max &&
		    (except == NULL ||
		     !words_contains(except, f->v[i].name,
		                     strlen(f->v[i].name))))
			return f->v[i].name;
	return NULL;
}

void form_free(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		crypto_free_str(f->v[i].value); /* values may be secrets */
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

const char *form_param(const struct form *f, const char *name)
{
	const char *v = form_get(f, name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

bool form_content_type(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	if (ct == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	size_t n = strlen(want);
	if (strncasecmp(ct, want, n) != 0)
		return false;
	const char *rest = ct + n;
	while (*rest == ' ')
		rest++;
	return *rest == '\0' || *rest == ';';
}

size_t form_count(const struct form *f, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->v[i].name, name) == 0;
	return n;
}

/* strutil.c: string and word-list helpers (see strutil.h). */
#include "strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *xstrdup(const char *s)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL)
		abort();
	return p;
}

const char *words_next(const char *p, size_t *len)
{
	if (p == NULL)
		return NULL;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return NULL;
	const char *e = strchr(p, ' ');
	*len = e ? (size_t)(e - p) : strlen(p);
	return p;
}

bool words_contains(const char *list, const char *word, size_t wlen)
{
	size_t len;
	for (const char *w = words_next(list, &len); w; w = words_next(w + len, &len))
		if (len == wlen && memcmp(w, word, len) == 0)
			return true;
	return false;
}

size_t words_count(const char *list)
{
	size_t n = 0, len;
	for (const char *w = words_next(list, &len); w; w = words_next(w + len, &len))
		n++;
	return n;
}

bool scope_token_valid(const char *tok, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];
		if (c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c)
			return false;
	}
	return true;
}

bool scope_list_valid(const char *list)
{
	if (list == NULL || *list == '\0' || *list == ' ')
		return false;
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (!scope_token_valid(p, len))
			return false;
		if (e == NULL)
			return true;
		p = e + 1;
	}
}

void words_append(char **list, const char *word, size_t wlen)
{
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + wlen + 2);
	if (n == NULL)
		abort();
	if (old > 0)
		n[old++] = ' ';
	memcpy(n + old, word, wlen);
	n[old + wlen] = '\0';
	*list = n;
}

size_t utf8_seq_len(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;
	unsigned int cp;
	if (len == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_seq_len(s + i, len - i)) == 0)
			return false;
	return true;
}

char *url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *p = out;
	if (out == NULL)
		abort();
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

/*
 * target.c: a database target as the user writes it (a SQLite path or a
 * postgresql:// URI): which backend it names, and the same text with its
 * password hidden, for messages and logs.
 */
#include "store.h"

#include <string.h>

bool store_target_is_pg(const char *target)
{
	return target != NULL && (strncmp(target, "postgresql://", 13) == 0 ||
	                          strncmp(target, "postgres://", 11) == 0);
}

/* Appends n bytes of src to out at *len, within outlen (keeping the NUL). */
static void put(char *out, size_t outlen, size_t *len, const char *src,
                size_t n)
{
	if (*len + 1 >= outlen)
		return;
	if (n > outlen - 1 - *len)
		n = outlen - 1 - *len;
	memcpy(out + *len, src, n);
	*len += n;
	out[*len] = '\0';
}

void store_target_redact(const char *target, char *out, size_t outlen)
{
	size_t len = 0;
	if (outlen == 0)
		return;
	out[0] = '\0';
	if (target == NULL)
		return;
	const char *p = target;
	const char *scheme = strstr(p, "://");
	if (scheme != NULL) {
		/* The authority ends at the first '/', '?' or '#'; a password
		 * is what follows the first ':' of the userinfo before '@'. */
		const char *auth = scheme + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memrchr(auth, '@', alen);
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth))
		                       : NULL;
		if (colon != NULL) {
			put(out, outlen, &len, p, (size_t)(colon + 1 - p));
			put(out, outlen, &len, "***", 3);
			p = at;
		}
	}
	/* password=... among the parameters (URI query or key=value). */
	while (*p) {
		const char *hit = strstr(p, "password=");
		if (hit == NULL || (hit != target && strchr("?&; \t", hit[-1]) ==
		                                         NULL)) {
			size_t n = hit ? (size_t)(hit - p) + 9 : strlen(p);
			put(out, outlen, &len, p, n);
			p += n;
			continue;
		}
		put(out, outlen, &len, p, (size_t)(hit - p) + 9);
		put(out, outlen, &len, "***", 3);
		p = hit + 9 + strcspn(hit + 9, "& \t#");
	}
}

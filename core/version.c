/*
 * version.c: the version lines of --version (see version.h), and core's
 * own libraries. The compile-time versions of libargon2 and libinih come
 * from pkg-config (CMakeLists.txt), as their headers carry none.
 */
#include "version.h"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <stdlib.h>

void version_add(struct version_libs *v, const char *name, const char *built,
                 const char *running)
{
	if (v->n == VERSION_LIBS_MAX)
		abort(); /* a module added a library: raise the bound */
	v->lib[v->n++] = (struct version_lib){name, built, running};
}

char *version_buf(struct version_libs *v)
{
	if (v->nbuf == sizeof(v->buf) / sizeof(v->buf[0]))
		abort();
	return v->buf[v->nbuf++];
}

void version_core_libs(struct version_libs *v)
{
	version_add(v, "OpenSSL", OPENSSL_VERSION_STR,
	            OpenSSL_version(OPENSSL_VERSION_STRING));
	version_add(v, "libargon2", LK_ARGON2_VERSION, NULL);
	version_add(v, "libinih", LK_INIH_VERSION, NULL);
}

void version_print(FILE *out, const char *prog, const struct version_libs *v)
{
	fprintf(out, "%s %s\ncommit %s\n", prog, LATCHKEY_VERSION,
	        latchkey_commit);
	fputs("built with:\n", out);
	for (size_t i = 0; i < v->n; i++) {
		const struct version_lib *l = &v->lib[i];
		fprintf(out, "  %-14s %s", l->name, l->built);
		if (l->running != NULL)
			fprintf(out, ", running %s", l->running);
		fputc('\n', out);
	}
}

/*
 * fuzz_util.h: small helpers shared by the libFuzzer targets in tests/fuzz:
 * turning the fuzzer's bytes into C strings and argument vectors, a private
 * temporary directory removed at exit, quiet logging, and the one way a
 * target reports a broken invariant (fz_check: a message, then abort, which
 * libFuzzer records as a crash with its input).
 *
 * Everything is static inline so each target uses what it needs and still
 * builds under -Werror. Nothing here may leak: LeakSanitizer runs.
 */
#ifndef LK_FUZZ_UTIL_H
#define LK_FUZZ_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: says which, then aborts (a crash to libFuzzer). */
#define fz_check(cond)                                                       \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",     \
			        __FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static inline void *fz_xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

/* A NUL-terminated copy of data. An embedded NUL ends the C string early,
 * as it would for a header or argument the program is handed. */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
	char *s = fz_xmalloc(size + 1);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Only errors are logged, so a target does not flood the fuzzer's output
 * (log.h has no level above LOG_ERR). */
static inline void fz_quiet(void)
{
	log_init("text", LOG_ERR);
}

/* ---- argument vectors ---------------------------------------------------- */

/* Words of data split on NUL bytes, after fixed leading words. argv owns a
 * copy of data (buf) and the array; argv[argc] is NULL. */
struct fz_argv {
	int argc;
	char **argv;
	char *buf;
};

static inline void fz_argv_split(struct fz_argv *a, const uint8_t *data,
                                 size_t size, const char *const *lead,
                                 int max_words)
{
	int nlead = 0;
	while (lead[nlead] != NULL)
		nlead++;
	a->buf = fz_cstr(data, size);
	a->argv = fz_xmalloc((size_t)(nlead + max_words + 1) * sizeof(char *));
	a->argc = 0;
	for (int i = 0; i < nlead; i++)
		a->argv[a->argc++] = (char *)lead[i];
	/* size + 1 bytes: the copy's final NUL ends the last word. */
	char *w = a->buf;
	for (size_t i = 0; i <= size && a->argc < nlead + max_words; i++) {
		if (a->buf[i] == '\0') {
			a->argv[a->argc++] = w;
			w = a->buf + i + 1;
		}
	}
	/* An empty input is no word at all, not one empty word. */
	if (size == 0)
		a->argc = nlead;
	a->argv[a->argc] = NULL;
}

static inline void fz_argv_free(struct fz_argv *a)
{
	free(a->argv);
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

/* ---- files --------------------------------------------------------------- */

/* A new private directory under $TMPDIR (or /tmp); the caller frees the
 * path and removes the directory with fz_rmtree. */
static inline char *fz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/lk-fuzz-XXXXXX", base) < 0 || mkdtemp(p) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	return p;
}

/* "dir/name"; caller frees. */
static inline char *fz_path(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

/* Replaces the file at path with data. */
static inline void fz_write_file(const char *path, const uint8_t *data,
                                 size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
	    fclose(f) != 0) {
		perror("fuzz: writing the input file");
		abort();
	}
}

/* Removes the files directly inside dir, then dir. */
static inline void fz_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			char *p = fz_path(dir, e->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* ---- percent-encoding, for round trips ----------------------------------- */

/* s form-urlencoded: unreserved bytes as they are, space as '+' when
 * plus_for_space, everything else as %XX (upper or lower case hex, so
 * both spellings are exercised). Caller frees. */
static inline char *fz_form_encode(const char *s, bool plus_for_space,
                                   bool lower_hex)
{
	static const char up[] = "0123456789ABCDEF", low[] = "0123456789abcdef";
	const char *hex = lower_hex ? low : up;
	size_t len = strlen(s);
	char *out = fz_xmalloc(3 * len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			*o++ = (char)c;
		} else if (c == ' ' && plus_for_space) {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

#endif

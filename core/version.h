/*
 * version.h: what a binary says about itself: Latchkey's version (CMake's
 * project(VERSION), the one place it is written) and the libraries it was
 * built with, for --version, /healthz and the metrics.
 *
 * Each module adds the libraries it links, with the version it was
 * compiled against and, where the library tells, the one it runs with:
 * version_core_libs here, store_libs (storage), srv_libs (server, which
 * calls the other two: grants/ adds no library of its own to the list). A
 * binary collects the modules it has and prints.
 */
#ifndef LK_VERSION_H
#define LK_VERSION_H

#include <stddef.h>
#include <stdio.h>

/* LATCHKEY_VERSION is defined for every file by CMakeLists.txt. */
#ifndef LATCHKEY_VERSION
#error "LATCHKEY_VERSION comes from CMake's project(VERSION)"
#endif

struct version_lib {
	const char *name;
	const char *built;   /* compiled against */
	const char *running; /* loaded now; NULL: the library does not say */
};

#define VERSION_LIBS_MAX 12
struct version_libs {
	struct version_lib lib[VERSION_LIBS_MAX];
	size_t n;
	/* Room for running versions a library gives as a number. */
	char buf[4][32];
	size_t nbuf;
};

/* The source commit built: 12 hex digits, "-dirty" after them when the
 * tree had changes, or what $LATCHKEY_COMMIT said; "unknown" without git
 * (cmake/commit_id.cmake, compiled into the binaries). */
extern const char latchkey_commit[];

/* Adds one library (strings borrowed; static in practice). */
void version_add(struct version_libs *v, const char *name, const char *built,
                 const char *running);
/* A buffer in v for a running version formatted by the caller. */
char *version_buf(struct version_libs *v);
/* OpenSSL, libargon2, libinih: what core links. */
void version_core_libs(struct version_libs *v);
/* "PROG VERSION", "commit COMMIT", then one line per library: "  NAME BUILT", and
 * ", running RUNNING" when the library tells. */
void version_print(FILE *out, const char *prog, const struct version_libs *v);

#endif

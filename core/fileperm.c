/*
 * fileperm.c: the "only its owner may read it" rule for files that hold
 * secrets (the database: signing keys and every hash). See fileperm.h.
 * Creating such files privately is the store's business (0600, and SQLite
 * gives the -wal and -shm files the database file's mode).
 */
#include "fileperm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "crypto.h"
#include "strutil.h"

int file_private_check(const char *path, const char *what, const char *why,
                       char *msg, size_t msglen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* missing: whoever creates it makes it private */
	if (!(st.st_mode & (S_IROTH | S_IWOTH)))
		return 0;
	snprintf(msg, msglen, "%s %s is readable or writable by every user "
	         "(mode %04o): %s; run: chmod 600 '%s'", what, path,
	         (unsigned)(st.st_mode & 07777), why, path);
	return -1;
}

char *file_read_pem(const char *path)
{
	enum { MAX = 1 << 20 };
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = xcalloc(1, MAX + 1);
	size_t n = fread(buf, 1, MAX + 1, f);
	bool bad = ferror(f) || n == 0 || n > MAX;
	fclose(f);
	if (bad) {
		crypto_free_str(buf);
		return NULL;
	}
	return buf;
}

/*
 * fileperm.h: whether a file that holds secrets is private to its owner.
 *
 * Lives in core because the server refuses such a file and the admin CLI
 * warns about it: one rule, one message, for both. And reading such a
 * file (a TLS key) whole.
 */
#ifndef LK_FILEPERM_H
#define LK_FILEPERM_H

#include <stddef.h>

/* 0 when path is missing or no other user (outside owner and group) can
 * read or write it. -1 when every user can, with msg set to "<what> <path>
 * is readable or writable by every user (mode 0644): <why>; run: chmod 600
 * '<path>'". */
int file_private_check(const char *path, const char *what, const char *why,
                       char *msg, size_t msglen);

/* A whole PEM file (a certificate chain or a key: a few KiB, at most
 * 1 MiB) as a string, or NULL when it cannot be read or is empty or
 * larger. The caller frees with crypto_free_str: it may be a key. The
 * public listener and the admin API read their TLS files with it. */
char *file_read_pem(const char *path);

#endif

/*
 * strutil.h: small string helpers shared by every module.
 *
 * Lists of scopes, grant types and redirect URIs travel as one string of
 * words separated by single spaces (the RFC 6749 section 3.3 scope syntax),
 * which is also how they are stored. These helpers read such lists without
 * allocating.
 */
#ifndef LK_STRUTIL_H
#define LK_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* strdup that passes NULL through; aborts on out-of-memory. */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);

/* Iterates words: *len set to the word's length; returns NULL at the end. */
const char *words_next(const char *p, size_t *len);
bool words_contains(const char *list, const char *word, size_t wlen);
size_t words_count(const char *list);

/* RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
bool scope_token_valid(const char *tok, size_t len);
/* Non-empty, single-space separated scope tokens, no leading/trailing space. */
bool scope_list_valid(const char *list);

/* RFC 3629: the length (1-4) of the well-formed UTF-8 sequence that starts
 * s, which holds len bytes; 0 when it is not one (shortest forms only, no
 * surrogates, nothing past U+10FFFF). */
size_t utf8_seq_len(const char *s, size_t len);
bool utf8_valid(const char *s, size_t len);

/* Percent-encodes s for a URL query component (RFC 3986: everything but
 * the unreserved characters). Caller frees; aborts on out-of-memory. */
char *url_encode(const char *s);

/* Appends word to a space-separated list (*list may be NULL); aborts on OOM. */
void words_append(char **list, const char *word, size_t wlen);

#endif

/*
 * crypto.h: thin wrappers over OpenSSL for randomness, encodings, digests
 * and constant-time comparison. Everything here delegates to libcrypto; the
 * wrappers only fix the alphabets and ownership rules in one place.
 */
#ifndef LK_CRYPTO_H
#define LK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_LEN 32

/* Fills buf from the OS CSPRNG (RAND_bytes). Returns 0, or -1 on failure. */
int crypto_random(void *buf, size_t n);

/* nbytes random bytes as unpadded base64url. Caller frees; NULL on failure. */
char *crypto_random_token(size_t nbytes);
/* The same for identifiers an operator types (client ids, token ids,
 * families): base64url may start with '-', and such an id would read as
 * an option on a command line (`latchkey token revoke -x...`), so those
 * draws are discarded, one in 64. So are those that start with "u_", the
 * prefix of user ids (validate.h): a generated client id never equals a
 * user's sub (RFC 9068 section 5). */
char *crypto_random_id(size_t nbytes);
/* An id for records written in bulk (token ids, families): the time in
 * milliseconds as 12 hex digits, then nbytes random bytes as base64url.
 * Ids made later sort later, so their index entries append instead of
 * landing on a random page of the index (one page written per commit,
 * not one per record). Starts with a digit: never '-' nor "u_". NULL
 * without randomness; the caller frees. */
char *crypto_ordered_id(size_t nbytes);
/* A new user id: VALID_USER_ID_PREFIX and 96 random bits (the user's sub,
 * which never changes). NULL without randomness; the caller frees. */
char *crypto_random_user_id(void);

/* Unpadded base64url (RFC 4648 section 5) or, with std, unpadded standard
 * base64 (as PHC strings use). Caller frees. */
char *b64_encode(const void *data, size_t len, bool url);
/* Decodes unpadded or padded base64/base64url. Caller frees *out.
 * Returns 0, or -1 on malformed input. */
int b64_decode(const char *s, size_t slen, bool url, unsigned char **out,
               size_t *outlen);

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);
/* The SHA-256 of the string s as 64 lowercase hex digits and a NUL: how
 * token hashes and migration checksums are written down. */
void sha256_hex(const char *s, char out[2 * SHA256_LEN + 1]);
void hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                 unsigned char out[SHA256_LEN]);

/* Constant-time equality of two equal-length buffers. */
bool crypto_eq(const void *a, const void *b, size_t n);
/* Constant-time string equality: compares digests, so neither content nor
 * the position of the first difference leaks through timing. */
bool crypto_streq(const char *a, const char *b);

/* Frees OpenSSL's state for the calling thread now, for a thread that
 * ends while the process may be exiting (its own cleanup runs later). */
void crypto_thread_end(void);

/* Overwrites secrets before they are freed. */
void crypto_wipe(void *p, size_t n);
void crypto_free_str(char *s); /* wipes, then frees; NULL-safe */

/* Appends n bytes of data to *buf, a NUL-terminated buffer of *len bytes
 * in a block of *cap that may hold secrets (a request body): grown by
 * doubling from first, never past max + 1, by copying, so the old block
 * is wiped before it is freed (realloc would not). The caller checks
 * that *len + n <= max first. */
void crypto_buf_append(char **buf, size_t *len, size_t *cap, size_t first,
                       size_t max, const char *data, size_t n);

#endif

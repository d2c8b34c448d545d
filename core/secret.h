/*
 * secret.h: hashing and verification of client secrets and user passwords.
 *
 * Hashes are PHC strings, so the scheme is named inside each stored value
 * and can change later without a migration:
 *   $lk-hmac-sha256$<salt>$<digest>       generated, 256-bit client secrets
 *   $argon2id$v=19$m=...,t=...,p=...$...  caller-chosen secrets, passwords
 * A generated secret carries 256 bits of entropy, so one salted HMAC is as
 * strong as any KDF against offline guessing and keeps /token fast. A
 * caller-chosen secret may be weak, so it gets Argon2id like a password.
 */
#ifndef LK_SECRET_H
#define LK_SECRET_H

#include <stdbool.h>
#include <stdint.h>

#define SECRET_GENERATED_BYTES 32 /* 256 bits, as issue 2 asks */

enum secret_result {
	SECRET_OK = 0,
	SECRET_MISMATCH,
	SECRET_BAD_HASH, /* the stored string is not a scheme we know */
};

struct argon2_cost {
	uint32_t t_cost;     /* iterations */
	uint32_t m_cost_kib; /* memory in KiB */
	uint32_t lanes;      /* parallelism */
};

/* The cost of new Argon2id hashes: the OWASP Password Storage Cheat
 * Sheet's Argon2id row (m=19 MiB, t=2, p=1). A hash names its own cost,
 * so a change affects new hashes only. Fixed: no caller may lower it for
 * the whole process; a test that wants cheap hashes says so per call
 * (secret_hash_slow_at). */
void secret_get_argon2_cost(struct argon2_cost *c);

/* A new random secret (unpadded base64url of 32 bytes). Caller frees with
 * crypto_free_str. */
char *secret_generate(void);

/* Each returns a PHC string the caller frees, or NULL on failure. */
char *secret_hash_fast(const char *secret);
char *secret_hash_slow(const char *secret); /* Argon2id at the cost above */
char *secret_hash_slow_at(const char *secret, const struct argon2_cost *c);

/* Constant-time verification against any supported PHC string. */
enum secret_result secret_verify(const char *phc, const char *secret);

/* True for schemes that are deliberately slow (worth caching a success). */
bool secret_hash_is_slow(const char *phc);

/* Runs one Argon2id verification against a fixed hash, so that a login for
 * a user that does not exist costs the same time as one that does. */
void secret_burn_equal_time(const char *secret);

#endif

/*
 * fuzz_basic_auth.c: server/basic_auth.c, the "Authorization: Basic"
 * reader of /token, /introspect and /revoke (RFC 7617, with RFC 6749
 * section 2.3.1's form-encoded id and secret).
 *
 * Two shapes of input:
 *   - anything that does not start with a NUL byte is the header value
 *     itself (a header never holds a NUL, so the C string ends at the
 *     first one, as it would coming from libmicrohttpd);
 *   - a NUL byte, then bytes that the target base64-encodes after
 *     "Basic ": this reaches the colon split and the form-decoding of the
 *     id and secret without the fuzzer having to learn base64.
 *
 * Checks: a refusal hands back no strings; an accepted header has a
 * non-empty id, and encoding that id and secret again gives a header that
 * reads back the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_util.h"
#include "server_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* "Basic " + base64(raw): the caller frees. */
static char *basic_header(const void *raw, size_t len)
{
	char *b64 = b64_encode(raw, len, false);
	fz_check(b64 != NULL);
	/* b64_encode drops the padding; put it back as clients send it. */
	size_t n = strlen(b64);
	char *h = fz_xmalloc(n + 9);
	snprintf(h, n + 9, "Basic %s%s", b64,
	         n % 4 == 2 ? "==" : n % 4 == 3 ? "=" : "");
	free(b64);
	return h;
}

static void check_round_trip(const char *id, const char *secret,
                             unsigned variant)
{
	char *eid = fz_form_encode(id, variant & 1, variant & 2);
	char *esec = fz_form_encode(secret, variant & 2, variant & 1);
	size_t n = strlen(eid) + strlen(esec) + 2;
	char *raw = fz_xmalloc(n);
	snprintf(raw, n, "%s:%s", eid, esec);
	char *h = basic_header(raw, strlen(raw));
	char *id2, *secret2;
	fz_check(basic_auth_parse(h, &id2, &secret2) == BASIC_OK);
	fz_check(strcmp(id, id2) == 0 && strcmp(secret, secret2) == 0);
	crypto_free_str(id2);
	crypto_free_str(secret2);
	free(h);
	free(raw);
	free(eid);
	free(esec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *header = size > 0 && data[0] == '\0'
	                   ? basic_header(data + 1, size - 1)
	                   : fz_cstr(data, size);
	char *id = (char *)"unset", *secret = (char *)"unset";
	enum basic_rc rc = basic_auth_parse(header, &id, &secret);
	if (rc == BASIC_OK) {
		fz_check(id != NULL && secret != NULL && id[0] != '\0');
		check_round_trip(id, secret, (unsigned)size);
	} else {
		fz_check(id == NULL && secret == NULL);
		fz_check(rc == BASIC_NONE || rc == BASIC_MALFORMED);
	}
	crypto_free_str(id);
	crypto_free_str(secret);
	free(header);
	return 0;
}

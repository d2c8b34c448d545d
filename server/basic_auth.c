/*
 * basic_auth.c: client credentials from "Authorization: Basic" (RFC 7617),
 * decoded with OpenSSL's base64 and then form-urldecoded, because RFC 6749
 * section 2.3.1 has clients form-encode the id and secret first (so a
 * colon inside either survives).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "server_int.h"

enum basic_rc basic_auth_parse(const char *header, char **id, char **secret)
{
	*id = *secret = NULL;
	if (header == NULL)
		return BASIC_NONE;
	while (*header == ' ')
		header++;
	if (strncasecmp(header, "Basic", 5) != 0 ||
	    (header[5] != ' ' && header[5] != '\0'))
		return BASIC_NONE;
	const char *p = header + 5;
	while (*p == ' ')
		p++;
	size_t len = strlen(p);
	while (len > 0 && p[len - 1] == ' ')
		len--;

	unsigned char *raw = NULL;
	size_t rawlen = 0;
	if (len == 0 || b64_decode(p, len, false, &raw, &rawlen) != 0)
		return BASIC_MALFORMED;
	const unsigned char *colon = memchr(raw, ':', rawlen);
	if (colon == NULL || memchr(raw, '\0', rawlen) != NULL) {
		crypto_wipe(raw, rawlen);
		free(raw);
		return BASIC_MALFORMED;
	}
	size_t idlen = (size_t)(colon - raw);
	*id = form_decode((const char *)raw, idlen);
	*secret = form_decode((const char *)colon + 1, rawlen - idlen - 1);
	crypto_wipe(raw, rawlen);
	free(raw);
	if (*id == NULL || *secret == NULL || (*id)[0] == '\0') {
		crypto_free_str(*id);
		crypto_free_str(*secret);
		*id = *secret = NULL;
		return BASIC_MALFORMED;
	}
	return BASIC_OK;
}

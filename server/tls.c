/*
 * tls.c: what latchkeyd's HTTPS accepts, as one GnuTLS priority string
 * handed to libmicrohttpd: the operator's tls_ciphers, then the versions
 * from tls_min_version. The versions come last so that they win over any
 * version a tls_ciphers string names (GnuTLS reads left to right): TLS 1.0
 * and 1.1 cannot come back through it (RFC 8996 deprecates both).
 *
 * The string is checked here with GnuTLS itself, so a typo is refused at
 * start with GnuTLS's own account of where it is, instead of libmicrohttpd's
 * "cannot start".
 */
#include <gnutls/gnutls.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_int.h"
#include "strutil.h"

char *tls_priority(const struct lk_config *cfg, char *err, size_t errlen)
{
	const char *versions = strcmp(cfg->tls_min_version, "1.3") == 0
	                           ? "-VERS-ALL:+VERS-TLS1.3"
	                           : "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
	char *prio = NULL;
	if (asprintf(&prio, "%s:%s", cfg->tls_ciphers, versions) < 0)
		abort();
	gnutls_priority_t p;
	const char *where = NULL;
	int rc = gnutls_priority_init(&p, prio, &where);
	if (rc != GNUTLS_E_SUCCESS) {
		/* where points into prio; only the operator's part can be
		 * wrong, and it is the start of prio. */
		size_t own = strlen(cfg->tls_ciphers);
		size_t at = where != NULL ? (size_t)(where - prio) : 0;
		if (at > own)
			at = own;
		snprintf(err, errlen, "setting 'tls_ciphers': GnuTLS refuses "
		         "'%.200s' at '%.*s': %s", cfg->tls_ciphers,
		         (int)(own - at > 40 ? 40 : own - at), prio + at,
		         gnutls_strerror(rc));
		free(prio);
		return NULL;
	}
	gnutls_priority_deinit(p);
	return prio;
}

long long tls_cert_not_after(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	long long t = 0;
	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		t = (long long)timegm(&tm);
	X509_free(x);
	BIO_free(b);
	return t;
}

/*
 * tls_peer.c: the certificate a client presented in latchkeyd's own TLS
 * handshake (RFC 8705), read for the request that asks: its SHA-256
 * thumbprint (x5t#S256), whether it chains to tls_client_ca, and the
 * names tls_client_auth matches (subject DN, DNS and URI
 * subjectAltNames). The handshake asks for a certificate only with
 * tls_client_certs or tls_client_ca, and never requires one (httpd.c);
 * it takes any, so a self-signed certificate reaches here and the
 * client's registered ones decide (grants/client_auth.c). Which CAs the
 * request names is tls_peer_on_connection's.
 *
 * A request a trusted proxy forwarded has none: the TLS peer is the
 * proxy, whose certificate must not pass for its clients'.
 *
 * What was read is kept with the connection (struct conn_note): the
 * chain check is a signature verification, and a keep-alive client
 * sends many requests over one handshake. It is used again only for the
 * same certificate (its thumbprint), which is all a connection has, and
 * for a minute at most.
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "server_int.h"
#include "strutil.h"

/* How long a connection's certificate, once read, is taken as read. */
#define CERT_REREAD_SECS 60

/* The subjectAltName entries read; a certificate with more names than
 * this is a wildcard in all but name. */
#define SAN_MAX_NAMES 256
/* A subjectAltName may be long, but not longer than a header. */
#define SAN_MAX 1024

static void read_names(gnutls_x509_crt_t crt, struct tls_client_cert *out)
{
	gnutls_datum_t dn = {0};
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0 && dn.data != NULL) {
		out->subject_dn = strndup((const char *)dn.data, dn.size);
		gnutls_free(dn.data);
	}
	for (unsigned i = 0; i < SAN_MAX_NAMES; i++) {
		char buf[SAN_MAX + 1];
		size_t len = SAN_MAX;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len,
		                                             NULL);
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (t < 0)
			continue; /* too long, or malformed: names nothing */
		/* Words of a space-separated list: a name with a space or a
		 * NUL in it can match no registered name (no spaces there). */
		if (memchr(buf, ' ', len) != NULL || memchr(buf, '\0', len))
			continue;
		if (t == GNUTLS_SAN_DNSNAME)
			words_append(&out->san_dns, buf, len);
		else if (t == GNUTLS_SAN_URI)
			words_append(&out->san_uri, buf, len);
	}
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void copy_cert(struct tls_client_cert *dst,
                      const struct tls_client_cert *src)
{
	dst->x5t = dup_or_null(src->x5t);
	dst->chain_ok = src->chain_ok;
	dst->subject_dn = dup_or_null(src->subject_dn);
	dst->san_dns = dup_or_null(src->san_dns);
	dst->san_uri = dup_or_null(src->san_uri);
}

static struct conn_note *conn_of(struct srv_req *rq)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    rq->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

bool tls_peer_cert(struct srv_req *rq, struct tls_client_cert *out)
{
	memset(out, 0, sizeof(*out));
	if (rq->forwarded || rq->srv->cfg->tls_cert[0] == '\0')
		return false;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    rq->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return false;
	gnutls_session_t s = (gnutls_session_t)ci->tls_session;
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
	if (chain == NULL || n == 0)
		return false;
	unsigned char md[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[0].data, chain[0].size,
	                     md) != 0)
		return false;
	out->x5t = b64_encode(md, sizeof(md), true);
	struct conn_note *note = conn_of(rq);
	/* Read again after a while: the chain check covers the validity
	 * period, and a busy connection may outlive it. A monotonic clock:
	 * the wall clock (or the test double's) may step back. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = ts.tv_sec;
	if (out->x5t != NULL && note != NULL && note->cert.x5t != NULL &&
	    now - note->cert_read_at < CERT_REREAD_SECS &&
	    strcmp(note->cert.x5t, out->x5t) == 0) {
		free(out->x5t);
		copy_cert(out, &note->cert);
		return true;
	}
	/* Only tls_client_ca is the handshake's trust list then (httpd.c):
	 * without it, nothing chains. The check includes the validity
	 * period, every signature of the chain, and the purpose: a
	 * certificate whose extended key usage leaves out TLS client
	 * authentication (a server's, say) is no client's (RFC 5280
	 * 4.2.1.12); one without the extension may serve any purpose. */
	unsigned status = 0;
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	out->chain_ok = rq->srv->cfg->tls_client_ca[0] != '\0' &&
	                gnutls_certificate_verify_peers(s, &purpose, 1,
	                                                &status) == 0 &&
	                status == 0;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) == 0) {
		if (gnutls_x509_crt_import(crt, &chain[0],
		                           GNUTLS_X509_FMT_DER) == 0)
			read_names(crt, out);
		gnutls_x509_crt_deinit(crt);
	}
	if (out->x5t == NULL)
		return false;
	if (note != NULL) {
		tls_peer_clear(&note->cert);
		copy_cert(&note->cert, out);
		note->cert_read_at = now;
	}
	return true;
}

void tls_peer_on_connection(struct srv *s, struct MHD_Connection *c,
                            enum MHD_ConnectionNotificationCode code)
{
	/* tls_client_certs takes any certificate (self-signed ones are
	 * registered per client): the handshake names no acceptable CAs,
	 * since clients that filter by those names (Java's, Go's) would
	 * otherwise send none. With tls_client_ca alone, it names them. */
	if (code != MHD_CONNECTION_NOTIFY_STARTED || !s->cfg->tls_client_certs ||
	    s->cfg->tls_cert[0] == '\0')
		return;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL)
		gnutls_certificate_send_x509_rdn_sequence(
		    (gnutls_session_t)ci->tls_session, 1);
}

void tls_peer_clear(struct tls_client_cert *c)
{
	free(c->x5t);
	free(c->subject_dn);
	free(c->san_dns);
	free(c->san_uri);
	memset(c, 0, sizeof(*c));
}

/*
 * dpop.c: the server's side of DPoP (RFC 9449) at /token, /resource and
 * /userinfo: the URL a proof must name for an endpoint, and the
 * DPoP-Nonce header. What a proof must be is grants/dpop.c's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "server_int.h"

const struct hdr *with_dpop_nonce(struct srv_req *rq, const struct hdr *base,
                                  struct hdr *out, size_t n, char **nonce)
{
	size_t i = 0;
	*nonce = grants_dpop_nonce(rq->site->grants);
	if (*nonce == NULL)
		return base;
	for (; base[i].name != NULL && i + 2 < n; i++)
		out[i] = base[i];
	out[i++] = (struct hdr){"DPoP-Nonce", *nonce};
	out[i] = (struct hdr){NULL, NULL};
	return out;
}

char *presented_htu(struct srv_req *rq, const char *path)
{
	char *htu = NULL;
	if (asprintf(&htu, "%s%s", rq->site->issuer, path) < 0)
		abort();
	return htu;
}

/*
 * srv_libs.c: latchkeyd's libraries for --version (core/version.h): the
 * HTTP and JSON ones this module links, then the modules' below it.
 */
#include "server.h"
#include "version.h"

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>

void srv_libs(struct version_libs *v)
{
	/* MHD_VERSION is 0xMMmmpp00: major, minor, patch in hex digits. */
	char *built = version_buf(v);
	snprintf(built, sizeof(v->buf[0]), "%x.%x.%x", MHD_VERSION >> 24,
	         (MHD_VERSION >> 16) & 0xff, (MHD_VERSION >> 8) & 0xff);
	version_add(v, "libmicrohttpd", built, MHD_get_version());
	version_add(v, "GnuTLS", GNUTLS_VERSION, gnutls_check_version(NULL));
	version_add(v, "jansson", JANSSON_VERSION, jansson_version_str());
	store_libs(v);
	version_core_libs(v);
}

/*
 * facts.c: what a request names, read by the test double before or
 * after the server has handled it (the journal, faults limited to a
 * client or a grant type): its form, the client it names and how it
 * presents itself. Read from the request as received, so an injected
 * fault, which answers before any handler, sees the same as the server.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "strutil.h"
#include "testdouble_int.h"

void req_facts_read(struct srv_req *rq, long max_params,
                    struct req_facts *f)
{
	*f = (struct req_facts){0};
	if (strcmp(rq->method, "POST") == 0) {
		if (rq->body != NULL &&
		    form_content_type(req_header(rq, "Content-Type")))
			form_parse(rq->body, rq->body_len, (size_t)max_params,
			           &f->form);
	} else if (rq->query != NULL) {
		form_parse(rq->query, strlen(rq->query), (size_t)max_params,
		           &f->form);
	}
	const char *auth = req_header(rq, "Authorization");
	char *id = NULL, *secret = NULL;
	if (basic_auth_parse(auth, &id, &secret) == BASIC_OK) {
		f->client_id = id;
		f->client_auth = "client_secret_basic";
		crypto_free_str(secret);
	} else {
		crypto_free_str(id);
		crypto_free_str(secret);
		const char *cid = form_param(&f->form, "client_id");
		if (cid != NULL) {
			f->client_id = xstrdup(cid);
			f->client_auth = form_param(&f->form, "client_secret")
			                     ? "client_secret_post"
			                     : form_param(&f->form,
			                                  "client_assertion")
			                           ? "client_assertion"
			                           : "none";
		}
	}
	/* The scheme alone, and only a known one: a malformed header may be
	 * a bare secret. */
	static const char *const schemes[] = {"Basic", "Bearer", "DPoP"};
	if (auth != NULL) {
		f->auth_scheme = "other";
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
			size_t n = strlen(schemes[i]);
			if (strncasecmp(auth, schemes[i], n) == 0 &&
			    auth[n] == ' ')
				f->auth_scheme = schemes[i];
		}
	}
	f->grant_type = form_param(&f->form, "grant_type");
}

void req_facts_free(struct req_facts *f)
{
	form_free(&f->form);
	free(f->client_id);
	*f = (struct req_facts){0};
}

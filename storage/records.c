/*
 * records.c: what the records of store.h own. Each _clear frees a record
 * a store method filled (secrets wiped first) and leaves it zeroed, so a
 * record can be cleared twice or reused; the backends fill them, the
 * callers clear them. Also the status words of a token record, which the
 * CLI and the test double show alike.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "strutil.h"

void store_client_clear(struct store_client *c)
{
	free(c->client_id);
	free(c->name);
	crypto_free_str(c->secret_hash);
	free(c->grant_types);
	free(c->scopes);
	free(c->redirect_uris);
	free(c->on_refresh);
	free(c->auto_approve_as);
	free(c->audiences);
	free(c->id_token_alg);
	free(c->post_logout_redirect_uris);
	free(c->access_token_claims);
	free(c->release_claims);
	crypto_free_str(c->previous_secret_hash);
	free(c->jwks);
	free(c->auth_method);
	free(c->jwks_uri);
	free(c->tls_subject_dn);
	free(c->tls_san_dns);
	free(c->tls_san_uri);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void store_client_copy(struct store_client *dst, const struct store_client *src)
{
	*dst = *src;
	dst->client_id = dup_or_null(src->client_id);
	dst->name = dup_or_null(src->name);
	dst->secret_hash = dup_or_null(src->secret_hash);
	dst->grant_types = dup_or_null(src->grant_types);
	dst->scopes = dup_or_null(src->scopes);
	dst->redirect_uris = dup_or_null(src->redirect_uris);
	dst->on_refresh = dup_or_null(src->on_refresh);
	dst->auto_approve_as = dup_or_null(src->auto_approve_as);
	dst->audiences = dup_or_null(src->audiences);
	dst->id_token_alg = dup_or_null(src->id_token_alg);
	dst->post_logout_redirect_uris =
	    dup_or_null(src->post_logout_redirect_uris);
	dst->access_token_claims = dup_or_null(src->access_token_claims);
	dst->release_claims = dup_or_null(src->release_claims);
	dst->previous_secret_hash = dup_or_null(src->previous_secret_hash);
	dst->jwks = dup_or_null(src->jwks);
	dst->auth_method = dup_or_null(src->auth_method);
	dst->jwks_uri = dup_or_null(src->jwks_uri);
	dst->tls_subject_dn = dup_or_null(src->tls_subject_dn);
	dst->tls_san_dns = dup_or_null(src->tls_san_dns);
	dst->tls_san_uri = dup_or_null(src->tls_san_uri);
}

void store_user_clear(struct store_user *u)
{
	free(u->user_id);
	free(u->username);
	crypto_free_str(u->password_hash);
	free(u->claims);
	memset(u, 0, sizeof(*u));
}

void store_token_clear(struct store_token *t)
{
	free(t->jti);
	free(t->client_id);
	free(t->subject);
	free(t->scope);
	free(t->kid);
	free(t->family_id);
	memset(t, 0, sizeof(*t));
}

void store_refresh_clear(struct store_refresh *r)
{
	free(r->token_hash);
	free(r->family_id);
	free(r->client_id);
	free(r->subject);
	free(r->username);
	free(r->scope);
	free(r->access_jti);
	free(r->sid);
	free(r->amr);
	free(r->dpop_jkt);
	memset(r, 0, sizeof(*r));
}

void store_code_clear(struct store_code *c)
{
	free(c->code_hash);
	free(c->client_id);
	free(c->subject);
	free(c->username);
	free(c->redirect_uri);
	free(c->scope);
	free(c->code_challenge);
	free(c->code_challenge_method);
	free(c->family_id);
	free(c->resource);
	free(c->nonce);
	free(c->sid);
	free(c->amr);
	free(c->dpop_jkt);
	memset(c, 0, sizeof(*c));
}

void store_device_clear(struct store_device *d)
{
	free(d->device_code_hash);
	free(d->user_code_hash);
	free(d->client_id);
	free(d->scope);
	free(d->user_id);
	free(d->username);
	free(d->sid);
	free(d->amr);
	free(d->family_id);
	memset(d, 0, sizeof(*d));
}

void store_issuer_clear(struct store_issuer *i)
{
	free(i->issuer);
	free(i->client_id);
	free(i->jwks);
	free(i->jwks_uri);
	free(i->audience);
	memset(i, 0, sizeof(*i));
}

void store_resource_clear(struct store_resource *r)
{
	free(r->resource);
	free(r->audience);
	free(r->scopes);
	memset(r, 0, sizeof(*r));
}

void store_session_clear(struct store_session *s)
{
	free(s->session_hash);
	free(s->user_id);
	free(s->sid);
	free(s->amr);
	free(s->username);
	memset(s, 0, sizeof(*s));
}

void store_consent_clear(struct store_consent *c)
{
	free(c->user_id);
	free(c->client_id);
	free(c->scope);
	free(c->username);
	memset(c, 0, sizeof(*c));
}

void store_audit_clear(struct store_audit *e)
{
	free(e->actor);
	free(e->address);
	free(e->action);
	free(e->object);
	free(e->changes);
	memset(e, 0, sizeof(*e));
}

const char *store_token_status(int64_t revoked_at, int64_t retired_at,
                               int64_t expires_at, int64_t now)
{
	if (revoked_at != 0)
		return "revoked";
	if (retired_at != 0)
		return "rotated";
	return expires_at <= now ? "expired" : "active";
}

void store_key_clear(struct store_key *k)
{
	free(k->kid);
	free(k->alg);
	crypto_free_str(k->private_pem);
	memset(k, 0, sizeof(*k));
}

/*
 * device.c: device authorization (RFC 8628). A device with no browser
 * asks for a device code and a user code (grants_device_authorization);
 * a person types the user code on the device page, signs in and allows
 * or denies (grants_device_page, or the test double's
 * grants_device_decide); meanwhile the device polls the token endpoint
 * with the device code (grant_device_code) until it gets tokens or an
 * answer that ends the wait.
 *
 * User codes are 8 letters of an alphabet without vowels (no words) or
 * digits (no 0/O or 1/I), about 34.6 bits, printed XXXX-XXXX and read
 * back in any case, with or without the dash (section 6.1). Guessing
 * them is throttled (section 5.1): a wrong code is a failure, counted per
 * client address with the limit of failed logins
 * (login_max_failures_per_address, 20 per 300 s by default: under 6000 a
 * day), past which even a right one is refused; and for the whole site,
 * where past DEVICE_SITE_SOFT failures in a window only one code is
 * checked per second, so many addresses together still get fewer than
 * 86400 tries a day at codes that live ten minutes. Both codes are kept
 * only as hashes.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "grants_int.h"
#include "log.h"
#include "strutil.h"
#include "validate.h"

#define DEVICE_CODE_BYTES 32
#define USER_CODE_LEN 8
#define USER_CODE_ALPHABET "BCDFGHJKLMNPQRSTVWXZ"
/* Section 3.5: each slow_down adds this to the device code's interval. */
#define SLOW_DOWN_STEP 5
/* Wrong user codes site-wide in a window before checks are paced. */
#define DEVICE_SITE_SOFT 10
/* A printed user code with separators to spare; longer input is wrong. */
#define USER_CODE_INPUT_MAX 32

#define CODE_WRONG "That code is wrong or has expired. Check the code on " \
                   "your device and try again."

void device_auth_response_clear(struct device_auth_response *r)
{
	crypto_free_str(r->device_code);
	free(r->user_code);
	memset(r, 0, sizeof(*r));
}

void device_page_result_clear(struct device_page_result *r)
{
	free(r->user_code);
	free(r->client_name);
	free(r->scope);
	free(r->username);
	crypto_free_str(r->new_session);
	free(r->client_id);
	memset(r, 0, sizeof(*r));
}

/* A user code as typed, in its canonical form (upper case, no
 * separators) into norm; false when it cannot be one of ours. */
static bool user_code_norm(const char *in, char norm[USER_CODE_LEN + 1])
{
	size_t n = 0;
	if (in == NULL || strlen(in) > USER_CODE_INPUT_MAX)
		return false;
	for (const char *c = in; *c != '\0'; c++) {
		char u = (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c;
		if (u == '-' || u == ' ' || u == '\t')
			continue;
		if (strchr(USER_CODE_ALPHABET, u) == NULL ||
		    n == USER_CODE_LEN)
			return false;
		norm[n++] = u;
	}
	norm[n] = '\0';
	return n == USER_CODE_LEN;
}

/* The printed form: XXXX-XXXX. The caller frees. */
static char *user_code_print(const char *norm)
{
	char *p = xcalloc(1, USER_CODE_LEN + 2);
	memcpy(p, norm, USER_CODE_LEN / 2);
	p[USER_CODE_LEN / 2] = '-';
	memcpy(p + USER_CODE_LEN / 2 + 1, norm + USER_CODE_LEN / 2,
	       USER_CODE_LEN / 2);
	return p;
}

/* A fresh user code, uniformly drawn (bytes past the last whole multiple
 * of the alphabet are drawn again). -1 without randomness. */
static int user_code_new(char norm[USER_CODE_LEN + 1])
{
	const size_t k = sizeof(USER_CODE_ALPHABET) - 1;
	const unsigned limit = 256 - 256 % k;
	size_t n = 0;
	while (n < USER_CODE_LEN) {
		unsigned char b[16];
		if (crypto_random(b, sizeof(b)) != 0)
			return -1;
		for (size_t i = 0; i < sizeof(b) && n < USER_CODE_LEN; i++)
			if (b[i] < limit)
				norm[n++] = USER_CODE_ALPHABET[b[i] % k];
	}
	norm[n] = '\0';
	return 0;
}

/* ---- the device authorization endpoint (section 3.1, 3.2) --------------- */

static struct oauth_result record(struct grants *g,
                                  const struct store_client *cl,
                                  const char *scope,
                                  struct device_auth_response *out)
{
	enum store_rc rc = STORE_CONFLICT;
	/* A taken user code (one in 2^34 per live code) is drawn again. */
	for (int tries = 0; tries < 4 && rc == STORE_CONFLICT; tries++) {
		char norm[USER_CODE_LEN + 1];
		char dhash[2 * SHA256_LEN + 1], uhash[2 * SHA256_LEN + 1];
		char *code = crypto_random_token(DEVICE_CODE_BYTES);
		if (code == NULL || user_code_new(norm) != 0) {
			crypto_free_str(code);
			return OAUTH_FAIL(OAUTH_TEMPORARILY_UNAVAILABLE, NULL);
		}
		int64_t now = clock_now();
		token_hash(code, dhash);
		token_hash(norm, uhash);
		struct store_device d = {
			.device_code_hash = dhash, .user_code_hash = uhash,
			.client_id = cl->client_id, .scope = (char *)scope,
			.issued_at = now, .expires_at = now + g->device_code_ttl,
			.poll_interval = g->device_poll_interval,
		};
		rc = store_device_add(g->store, &d);
		if (rc == STORE_OK) {
			out->device_code = code;
			out->user_code = user_code_print(norm);
			out->expires_in = g->device_code_ttl;
			out->interval = g->device_poll_interval;
		} else {
			crypto_free_str(code);
		}
	}
	return oauth_from_store_write(rc, "recording a device code");
}

struct oauth_result grants_device_authorization(
    struct grants *g, const struct device_auth_request *rq,
    struct device_auth_response *out, char **client_id)
{
	const struct client_creds *cr = &rq->creds;
	struct store_client cl;
	char *scope = NULL;

	memset(out, 0, sizeof(*out));
	*client_id = xstrdup(cr->basic ? cr->basic_id : cr->form_id);
	struct oauth_result r = client_authenticate(g, cr, &cl);
	if (r.err != OAUTH_OK)
		return r;
	free(*client_id);
	*client_id = xstrdup(cl.client_id);
	if (!words_contains(cl.grant_types, VALID_GRANT_DEVICE_CODE,
	                    strlen(VALID_GRANT_DEVICE_CODE)))
		r = OAUTH_FAIL(OAUTH_UNAUTHORIZED_CLIENT, "this client is not "
		               "registered for the device_code grant");
	else if (!param_value_ok(rq->scope, 4096))
		r = OAUTH_FAIL(OAUTH_INVALID_SCOPE, NULL);
	else
		r = scope_grant(rq->scope, cl.scopes, &scope);
	if (r.err == OAUTH_OK)
		r = record(g, &cl, scope, out);
	store_client_clear(&cl);
	free(scope);
	return r;
}

/* ---- the token endpoint's grant (section 3.4, 3.5) ---------------------- */

/* A pending device code polled: sooner than its interval after the last
 * poll is slow_down, and the interval grows for every later poll; else
 * authorization_pending. Either way the poll is recorded, by a
 * compare-and-set, so two polls at once on two instances are one poll
 * and one slow_down. */
static struct oauth_result poll_pending(struct grants *g, const char *hash,
                                        const struct store_device *d)
{
	int64_t now = clock_now(), interval = d->poll_interval;
	bool slow = d->last_polled_at != 0 &&
	            now - d->last_polled_at < d->poll_interval;
	if (slow)
		interval += SLOW_DOWN_STEP;
	enum store_rc rc = store_device_poll(g->store, hash, d->last_polled_at,
	                                     now, interval);
	if (rc == STORE_CONFLICT)
		slow = true;
	else if (rc != STORE_OK)
		return oauth_from_store_write(rc, "recording a device poll");
	return slow ? OAUTH_FAIL(OAUTH_SLOW_DOWN, NULL)
	            : OAUTH_FAIL(OAUTH_AUTHORIZATION_PENDING, NULL);
}

/* An approved device code becomes tokens once, for the person who
 * approved it. The client may have lost scopes since: it gets those it
 * still has (as a code's exchange does). */
static struct oauth_result redeem(struct grants *g, const char *hash,
                                  const struct store_device *d,
                                  const struct token_request *rq,
                                  const struct store_client *cl,
                                  struct token_response *out)
{
	char *scope = NULL;
	struct store_user u = {0};
	bool issued = false;
	struct oauth_result r = scope_regrant(NULL, d->scope, cl->scopes,
	                                      &scope);
	bool oidc = r.err == OAUTH_OK && scope_has_openid(scope);
	if (oidc)
		r = oauth_from_store(store_user_get_by_id(g->store, d->user_id,
		                                          &u),
		                     "user lookup",
		                     OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                "the user no longer exists"));
	if (r.err == OAUTH_OK) {
		struct id_token_in idt = {
			.user = &u, .scope = scope, .auth_time = d->auth_time,
			.sid = d->sid, .amr = d->amr,
		};
		struct issue_opts o = {
			.subject = d->user_id, .username = d->username,
			.scope = scope, .with_refresh = refresh_enabled(g, cl),
			.consume_device_hash = hash, .auth_time = d->auth_time,
			.sid = d->sid, .amr = d->amr,
			.id_token = oidc ? &idt : NULL, .dpop_jkt = rq->dpop_jkt, .tls_x5t = rq->tls_x5t,
		};
		r = token_issue(g, cl, &o, out);
		issued = true;
	}
	/* The issue lost the consume: used by another poll, or expired
	 * since the read; the record says which. */
	struct store_device now = {0};
	if (issued && r.err == OAUTH_INVALID_GRANT &&
	    store_device_get(g->store, hash, &now) == STORE_OK &&
	    now.used_at == 0)
		r = OAUTH_FAIL(OAUTH_EXPIRED_TOKEN, NULL);
	store_device_clear(&now);
	store_user_clear(&u);
	free(scope);
	return r;
}

struct oauth_result grant_device_code(struct grants *g,
                                      const struct token_request *rq,
                                      const struct store_client *cl,
                                      struct token_response *out)
{
	struct store_device d = {0};
	char hash[2 * SHA256_LEN + 1];
	struct oauth_result r;

	if (rq->device_code == NULL)
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "device_code is "
		                  "required");
	token_hash(rq->device_code, hash);
	enum store_rc rc = store_device_get(g->store, hash, &d);
	if (rc != STORE_OK)
		return oauth_from_store(rc, "device code lookup",
		                        OAUTH_FAIL(OAUTH_INVALID_GRANT,
		                                   "unknown device code"));
	if (strcmp(d.client_id, cl->client_id) != 0)
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the device code was issued "
		               "to another client");
	else if (d.used_at != 0)
		r = OAUTH_FAIL(OAUTH_INVALID_GRANT, "the device code was already "
		               "used");
	else if (d.expires_at <= clock_now())
		r = OAUTH_FAIL(OAUTH_EXPIRED_TOKEN, NULL);
	/* Only a pending code's polls are paced and written: a decided one
	 * is answered from what was read, so a request the token endpoint
	 * runs again (a client record that changed) is answered alike. */
	else if (d.decided_at == 0)
		r = poll_pending(g, hash, &d);
	else if (!d.approved)
		r = OAUTH_FAIL(OAUTH_ACCESS_DENIED, "the person denied the "
		               "request");
	else
		r = redeem(g, hash, &d, rq, cl, out);
	crypto_wipe(hash, sizeof(hash));
	store_device_clear(&d);
	return r;
}

/* ---- the device page (section 3.3) -------------------------------------- */

enum lookup { FOUND, WRONG, THROTTLED, SLOWED, UNAVAILABLE };

/* The pending device code of a typed user code. Every lookup is
 * reserved in the login throttle under the client address and the site,
 * and a wrong code is a failure on both (section 5.1). *hash is the user
 * code's. */
static enum lookup find_user_code(struct grants *g, const char *typed,
                                  const char *remote_addr,
                                  struct store_device *d,
                                  char hash[2 * SHA256_LEN + 1],
                                  char norm[USER_CODE_LEN + 1])
{
	const char *addr = remote_addr && remote_addr[0] ? remote_addr : NULL;
	const struct throttle_key keys[] = {
		{"dcode", addr, 0, g->login_max_failures_per_address, false},
		{"dcode-site", "all", DEVICE_SITE_SOFT, INT_MAX, false},
	};
	struct throttle_ticket tk;
	enum throttle_verdict v = throttle_reserve(g->throttle, keys, 2, &tk);
	if (v == THROTTLE_UNAVAILABLE)
		return UNAVAILABLE;
	if (v != THROTTLE_GO) {
		log_security("device user code throttled for %s",
		             tk.stopped_by == 0 ? "a client address"
		                                : "the site (wrong codes from "
		                                  "many addresses)");
		return v == THROTTLE_SLOWED ? SLOWED : THROTTLED;
	}
	enum store_rc rc = STORE_NOT_FOUND;
	if (user_code_norm(typed, norm)) {
		token_hash(norm, hash);
		rc = store_device_by_user(g->store, hash, clock_now(), d);
	}
	if (rc == STORE_NOT_FOUND) {
		throttle_commit(g->throttle, &tk);
		return WRONG;
	}
	throttle_release(g->throttle, &tk, false);
	if (rc != STORE_OK) {
		oauth_from_store(rc, "device code lookup", OAUTH_RESULT_OK);
		return UNAVAILABLE;
	}
	return FOUND;
}

/* What one page request works with. */
struct devpage {
	struct grants *g;
	const struct device_page_request *rq;
	struct device_page_result *out;
	struct store_device d;
	char uhash[2 * SHA256_LEN + 1];
	struct browser_login bl;
};

static void show(struct devpage *p, enum device_outcome o, const char *msg)
{
	p->out->outcome = o;
	p->out->message = msg;
	if (o == DEVICE_LOGIN || o == DEVICE_CONSENT) {
		/* A login page again keeps what the person typed. */
		const char *name = p->bl.user.username;
		if (name == NULL && o == DEVICE_LOGIN &&
		    param_value_ok(p->rq->username, 256))
			name = p->rq->username;
		free(p->out->username);
		p->out->username = xstrdup(name);
	}
}

static void error_page(struct devpage *p, enum oauth_err e, const char *msg)
{
	p->out->outcome = DEVICE_ERROR_PAGE;
	p->out->error = e;
	p->out->message = msg;
}

static void busy(struct devpage *p)
{
	error_page(p, OAUTH_TEMPORARILY_UNAVAILABLE, "The server is "
	           "temporarily unable to handle the request. Try again "
	           "shortly.");
}

/* The entry form again, with what was typed and why it was refused. */
static void enter_again(struct devpage *p, const char *msg)
{
	free(p->out->user_code);
	p->out->user_code = param_value_ok(p->rq->user_code,
	                                   USER_CODE_INPUT_MAX)
	                        ? xstrdup(p->rq->user_code)
	                        : NULL;
	show(p, DEVICE_ENTER, msg);
}

/* The device code's client, for the pages: false after choosing an
 * error page. */
static bool client_named(struct devpage *p)
{
	struct store_client cl;
	enum store_rc rc = store_client_get(p->g->store, p->d.client_id, &cl);
	if (rc != STORE_OK) {
		if (rc == STORE_NOT_FOUND)
			error_page(p, OAUTH_INVALID_REQUEST, "The device's "
			           "application is no longer registered.");
		else
			busy(p);
		return false;
	}
	bool ok = cl.disabled_at == 0;
	if (ok) {
		p->out->client_name = xstrdup(cl.name);
		p->out->client_id = xstrdup(cl.client_id);
	} else {
		error_page(p, OAUTH_INVALID_REQUEST, "The device's application "
		           "is disabled.");
	}
	store_client_clear(&cl);
	return ok;
}

static void login(struct devpage *p)
{
	const struct device_page_request *rq = p->rq;
	const struct login_form f = {rq->username, rq->password,
	                             rq->remote_addr, p->d.client_id};
	char *cookie;
	const char *message;
	struct oauth_result r;
	enum login_outcome o = session_login(p->g, &p->bl, &f, &cookie,
	                                     &message, &r);
	if (cookie != NULL) {
		p->out->new_session = cookie;
		p->out->end_session = false;
	}
	if (o == LOGIN_ASK_AGAIN)
		show(p, DEVICE_LOGIN, message);
	else if (o == LOGIN_BROKEN)
		busy(p);
	else
		show(p, DEVICE_CONSENT, NULL);
}

/* The consent form came back; only a signed-in person may answer it. */
static void decide(struct devpage *p, bool allow)
{
	if (p->bl.user.user_id == NULL) {
		show(p, DEVICE_LOGIN, "Your session ended. Sign in again.");
		return;
	}
	struct store_device dec = {
		.approved = allow, .user_id = p->bl.user.user_id,
		.username = p->bl.user.username, .auth_time = p->bl.auth_time,
		.sid = p->bl.sid, .amr = p->bl.amr,
	};
	enum store_rc rc = store_device_decide(p->g->store, p->uhash,
	                                       clock_now(), &dec);
	if (rc == STORE_NOT_FOUND) {
		enter_again(p, CODE_WRONG);
		return;
	}
	if (rc != STORE_OK) {
		oauth_from_store_write(rc, "recording a device decision");
		busy(p);
		return;
	}
	log_info("device code of client %s %s by user %s", p->d.client_id,
	         allow ? "approved" : "denied", p->bl.user.user_id);
	p->out->approved = allow;
	show(p, DEVICE_DONE, NULL);
}

static void page(struct devpage *p)
{
	const struct device_page_request *rq = p->rq;
	char norm[USER_CODE_LEN + 1];
	if (strcmp(rq->action, "code") != 0 && strcmp(rq->action, "login") != 0 &&
	    strcmp(rq->action, "allow") != 0 && strcmp(rq->action, "deny") != 0) {
		error_page(p, OAUTH_INVALID_REQUEST, "The form sent an unknown "
		           "action.");
		return;
	}
	switch (find_user_code(p->g, rq->user_code, rq->remote_addr, &p->d,
	                       p->uhash, norm)) {
	case WRONG:
		enter_again(p, CODE_WRONG);
		return;
	case THROTTLED:
		enter_again(p, "Too many wrong codes. Try again later.");
		return;
	case SLOWED:
		enter_again(p, "Many wrong codes have been tried here lately. "
		            "Wait a moment and try again.");
		return;
	case UNAVAILABLE:
		busy(p);
		return;
	case FOUND:
		break;
	}
	if (!client_named(p))
		return;
	p->out->user_code = user_code_print(norm);
	p->out->scope = xstrdup(p->d.scope);
	enum store_rc rc = session_read(p->g, rq->session, &p->bl);
	if (rc == STORE_NOT_FOUND && rq->session != NULL)
		p->out->end_session = true;
	else if (rc != STORE_OK)
		store_user_clear(&p->bl.user);
	if (strcmp(rq->action, "login") == 0)
		login(p);
	else if (strcmp(rq->action, "code") == 0)
		show(p, p->bl.user.user_id ? DEVICE_CONSENT : DEVICE_LOGIN, NULL);
	else
		decide(p, strcmp(rq->action, "allow") == 0);
}

void grants_device_page(struct grants *g, const struct device_page_request *rq,
                        struct device_page_result *out)
{
	struct devpage p = {.g = g, .rq = rq, .out = out};
	memset(out, 0, sizeof(*out));
	out->session_ttl = g->session_ttl;
	if (rq->action == NULL)
		enter_again(&p, NULL); /* no lookup: a GET guesses nothing */
	else
		page(&p);
	store_device_clear(&p.d);
	browser_login_clear(&p.bl);
}

/* ---- the test double's approval ------------------------------------------ */

struct oauth_result grants_device_decide(struct grants *g,
                                         const char *user_code,
                                         const char *username, bool allow,
                                         char **client_id)
{
	char norm[USER_CODE_LEN + 1], hash[2 * SHA256_LEN + 1];
	struct store_device d = {0};
	struct store_user u = {0};
	*client_id = NULL;
	if (!user_code_norm(user_code, norm))
		return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "user_code is not a user "
		                  "code of this server (8 letters, XXXX-XXXX)");
	token_hash(norm, hash);
	enum store_rc rc = store_device_by_user(g->store, hash, clock_now(), &d);
	struct store_client cl;
	/* What the page refuses, this refuses too: a disabled client. */
	if (rc == STORE_OK &&
	    store_client_get(g->store, d.client_id, &cl) == STORE_OK) {
		bool disabled = cl.disabled_at != 0;
		store_client_clear(&cl);
		if (disabled) {
			store_device_clear(&d);
			return OAUTH_FAIL(OAUTH_INVALID_REQUEST, "the device's "
			                  "client is disabled");
		}
	}
	if (rc == STORE_OK && allow)
		rc = username == NULL ? STORE_NOT_FOUND
		                      : store_user_get(g->store, username, &u);
	struct oauth_result r = oauth_from_store(
	    rc, "device code lookup",
	    OAUTH_FAIL(OAUTH_INVALID_REQUEST,
	               d.client_id == NULL
	                   ? "no pending device code has this user code "
	                     "(unknown, expired or already decided)"
	                   : "username names no user"));
	if (r.err == OAUTH_OK) {
		struct store_device dec = {
			.approved = allow, .user_id = u.user_id,
			.username = u.username, .auth_time = clock_now(),
		};
		r = oauth_from_store(store_device_decide(g->store, hash,
		                                         clock_now(), &dec),
		                     "recording a device decision",
		                     OAUTH_FAIL(OAUTH_INVALID_REQUEST,
		                                "the user code was decided "
		                                "meanwhile, or expired"));
	}
	if (r.err == OAUTH_OK)
		*client_id = xstrdup(d.client_id);
	store_device_clear(&d);
	store_user_clear(&u);
	return r;
}

/*
 * pages.c: the HTML of the authorization, logout and device endpoints:
 * login, consent, error, logout confirmation, "signed out", and the device
 * page's user code form and its last page. Plain forms that work without JavaScript or external
 * resources; every value that came from a request or the database goes
 * through esc (HTML escaping), including the hidden fields that carry the OAuth
 * request from one form to the next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "strutil.h"

/* A growing string; pages are a few KiB. */
struct buf {
	char *s;
	size_t len, cap;
};

static void put_n(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (b->s == NULL)
			abort();
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void put(struct buf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

/* HTML-escapes s (text and double-quoted attribute values alike). */
static void esc(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&': put(b, "&amp;"); break;
		case '<': put(b, "&lt;"); break;
		case '>': put(b, "&gt;"); break;
		case '"': put(b, "&quot;"); break;
		case '\'': put(b, "&#39;"); break;
		default: put_n(b, s, 1);
		}
	}
}

static void head(struct buf *b, const char *title)
{
	put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	       "<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, "
	       "initial-scale=1\">\n<title>");
	esc(b, title);
	put(b, "</title>\n<style>\n"
	       "body{font-family:system-ui,sans-serif;max-width:28rem;"
	       "margin:3rem auto;padding:0 1rem;line-height:1.5;color:#111}\n"
	       "label{display:block;margin-top:1rem}\n"
	       "input{display:block;width:100%;padding:.5rem;"
	       "box-sizing:border-box;font-size:1rem}\n"
	       "button{margin-top:1.25rem;margin-right:.5rem;padding:.5rem 1.25rem;"
	       "font-size:1rem}\n"
	       ".error{color:#a00;font-weight:bold}\n"
	       "</style>\n</head>\n<body>\n<main>\n");
}

static void tail(struct buf *b)
{
	put(b, "</main>\n</body>\n</html>\n");
}

static void hidden(struct buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	put(b, "<input type=\"hidden\" name=\"");
	put(b, name);
	put(b, "\" value=\"");
	esc(b, value);
	put(b, "\">\n");
}

/* The form opening and the hidden fields every form carries. */
static void form_open(struct buf *b, const struct page_form *f)
{
	static const char *const names[] = {
		"response_type", "client_id", "redirect_uri", "scope", "state",
		"code_challenge", "code_challenge_method", "prompt", "login_hint",
		"resource", "nonce", "max_age", "id_token_hint", "dpop_jkt",
	};
	put(b, "<form method=\"post\" action=\"");
	esc(b, f->action);
	put(b, "\">\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		hidden(b, names[i], f->params[i]);
	hidden(b, "user_code", f->user_code);
	hidden(b, "csrf", f->csrf);
}

static void error_line(struct buf *b, const char *message)
{
	if (message == NULL)
		return;
	put(b, "<p class=\"error\" role=\"alert\">");
	esc(b, message);
	put(b, "</p>\n");
}

char *page_login(const struct page_form *f, const char *client_name,
                 const char *username, const char *message)
{
	struct buf b = {0};
	head(&b, "Sign in");
	put(&b, "<h1>Sign in</h1>\n<p>to continue to <strong>");
	esc(&b, client_name);
	put(&b, "</strong></p>\n");
	error_line(&b, message);
	form_open(&b, f);
	put(&b, "<label for=\"username\">Username</label>\n"
	        "<input id=\"username\" name=\"username\" "
	        "autocomplete=\"username\" required autofocus value=\"");
	esc(&b, username);
	put(&b, "\">\n<label for=\"password\">Password</label>\n"
	        "<input id=\"password\" name=\"password\" type=\"password\" "
	        "autocomplete=\"current-password\" required>\n"
	        "<button type=\"submit\" name=\"action\" value=\"login\">"
	        "Sign in</button>\n</form>\n");
	tail(&b);
	return b.s;
}

char *page_consent(const struct page_form *f, const char *client_name,
                   const char *username, const char *scope)
{
	struct buf b = {0};
	size_t len;
	head(&b, "Allow access?");
	put(&b, "<h1>Allow access?</h1>\n<p><strong>");
	esc(&b, client_name);
	put(&b, "</strong> asks to act for you, <strong>");
	esc(&b, username);
	put(&b, "</strong>");
	if (scope == NULL || scope[0] == '\0') {
		put(&b, ", with no particular permissions.</p>\n");
	} else {
		put(&b, ", with these permissions:</p>\n<ul>\n");
		for (const char *w = words_next(scope, &len); w;
		     w = words_next(w + len, &len)) {
			char *one = strndup(w, len);
			put(&b, "<li><code>");
			esc(&b, one);
			put(&b, "</code></li>\n");
			free(one);
		}
		put(&b, "</ul>\n");
	}
	if (f->user_code != NULL) {
		/* RFC 8628 section 5.4: the person checks that the code is
		 * the one their own device shows. */
		put(&b, "<p>Allow only if your device shows this code: "
		        "<strong id=\"user-code\">");
		esc(&b, f->user_code);
		put(&b, "</strong></p>\n");
	}
	form_open(&b, f);
	put(&b, "<button type=\"submit\" name=\"action\" value=\"allow\">"
	        "Allow</button>\n"
	        "<button type=\"submit\" name=\"action\" value=\"deny\">"
	        "Deny</button>\n</form>\n");
	tail(&b);
	return b.s;
}

char *page_error(const char *message)
{
	struct buf b = {0};
	head(&b, "Cannot continue");
	put(&b, "<h1>Cannot continue</h1>\n");
	error_line(&b, message);
	put(&b, "<p>Go back to the application and try again. If this keeps "
	        "happening, tell its developers.</p>\n");
	tail(&b);
	return b.s;
}

/* RP-Initiated Logout 1.0 section 2: without a valid id_token_hint the OP
 * asks the person whether to sign out (a logout link alone could be any
 * page's). */
char *page_logout(const char *action, const char *csrf,
                  const char *client_id, const char *post_logout_redirect_uri,
                  const char *state, const char *client_name)
{
	struct buf b = {0};
	head(&b, "Sign out?");
	put(&b, "<h1>Sign out?</h1>\n<p>");
	if (client_name != NULL) {
		put(&b, "<strong>");
		esc(&b, client_name);
		put(&b, "</strong> asks to sign you out. ");
	}
	put(&b, "Sign out of this sign-in service? You will have to sign in "
	        "again to use applications that rely on it.</p>\n"
	        "<form method=\"post\" action=\"");
	esc(&b, action);
	put(&b, "\">\n");
	hidden(&b, "client_id", client_id);
	hidden(&b, "post_logout_redirect_uri", post_logout_redirect_uri);
	hidden(&b, "state", state);
	hidden(&b, "csrf", csrf);
	put(&b, "<button type=\"submit\" name=\"action\" value=\"logout\">"
	        "Sign out</button>\n</form>\n");
	tail(&b);
	return b.s;
}

char *page_signed_out(const char *client_name)
{
	struct buf b = {0};
	head(&b, "Signed out");
	put(&b, "<h1>You are signed out</h1>\n<p>");
	if (client_name != NULL) {
		put(&b, "You can go back to <strong>");
		esc(&b, client_name);
		put(&b, "</strong> or close this page.");
	} else {
		put(&b, "You can close this page.");
	}
	put(&b, "</p>\n");
	tail(&b);
	return b.s;
}

char *page_device_code(const struct page_form *f, const char *user_code,
                       const char *message)
{
	struct buf b = {0};
	head(&b, "Connect a device");
	put(&b, "<h1>Connect a device</h1>\n<p>Enter the code your device "
	        "shows.</p>\n");
	error_line(&b, message);
	form_open(&b, f);
	put(&b, "<label for=\"user_code\">Code</label>\n"
	        "<input id=\"user_code\" name=\"user_code\" "
	        "autocomplete=\"off\" autocapitalize=\"characters\" "
	        "spellcheck=\"false\" required autofocus value=\"");
	esc(&b, user_code);
	put(&b, "\">\n<button type=\"submit\" name=\"action\" "
	        "value=\"code\">Continue</button>\n</form>\n");
	tail(&b);
	return b.s;
}

char *page_device_done(const char *client_name, bool approved)
{
	struct buf b = {0};
	head(&b, approved ? "Device connected" : "Access denied");
	put(&b, approved ? "<h1>Device connected</h1>\n<p><strong>"
	                 : "<h1>Access denied</h1>\n<p><strong>");
	esc(&b, client_name);
	put(&b, approved ? "</strong> on your device can now act for you. "
	                   "You can close this page.</p>\n"
	                 : "</strong> on your device was not given access. "
	                   "You can close this page.</p>\n");
	tail(&b);
	return b.s;
}

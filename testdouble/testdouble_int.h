/*
 * testdouble_int.h: declarations shared inside testdouble/ only.
 */
#ifndef LK_TESTDOUBLE_INT_H
#define LK_TESTDOUBLE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "handler.h"
#include "testdouble.h"

/* ---- delay.c: requests held for a while, without a worker -------------- */

struct held;
struct delays {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* on the monotonic clock */
	pthread_t thread;
	bool cut;  /* a stop has begun: nothing is held any more */
	bool quit; /* testdouble_free: the thread ends */
	struct held *list;
};

/* Starts the thread that resumes held requests; -1 with err. */
int delays_start(struct delays *d, char *err, size_t errlen);
/* Holds rq for ms, then runs then(rq) on MHD's thread. false (rq
 * untouched) once a stop has begun: the caller runs then(rq) itself. */
bool delays_hold(struct delays *d, struct srv_req *rq, long ms,
                 handler_fn then);
/* srv_on_stop: lets every held request go now, and later ones through. */
void delays_cut(void *d);
/* Ends the thread; after srv_stop. */
void delays_stop(struct delays *d);

/* journal.c's, below */
struct journal {
	pthread_mutex_t mu;
	json_t **ring; /* JOURNAL_MAX entries, n of them from head on */
	size_t head, n;
	unsigned long dropped; /* the oldest, pushed out */
};

/* ---- testdouble.c -------------------------------------------------------- */

/* A production route as the test double found it, before wrapping. */
struct wrapped {
	struct td_site *td;
	const struct route *route;
	handler_fn fn;
};

/* The test double of one site (server/handler.h): the server's own
 * issuer, or a tenant. What a test sets (faults, extra claims, denied
 * logins) and reads (the journal) is a site's; its clock is the site's
 * too (core/clock.h, set by the server around each request). */
struct td_site {
	struct testdouble *all;
	const struct lk_config *cfg;
	struct site *site;
	const char *tenant;      /* the site's name in the fixtures; NULL */
	struct grants *grants;
	struct store *store;
	struct wrapped *routes;  /* the site's production routes */
	size_t nroutes;
	pthread_mutex_t fault_mu;
	struct fault *faults;    /* control.c */
	struct claim_extras *claims; /* claims.c */
	struct journal journal;
	struct td_control_paths *control_paths; /* testdouble.c */
};

#define TD_MAX_SITES 17

/* claims.c's, set by testdouble.c: the site whose production route this
 * thread is serving (its handler is running), else NULL: what a store
 * read is done for. */
extern _Thread_local struct td_site *td_serving;

/* The process's test double: one per site, and what they share. */
struct testdouble {
	struct td_site *sites[TD_MAX_SITES];
	size_t nsites;
	struct delays delays;
};



/* ---- loopback.c --------------------------------------------------------- */

/* Whether rq may know /_control/ exists: a client on this host, asking
 * for this host by name, from no page or a page of this host. */
bool loopback(struct srv_req *rq);
/* The form of a control request: a POST's form body (empty is fine; a
 * body of another type is refused) or a GET's query. false when it is
 * not one, or repeats a parameter. f is the caller's to free. */
bool control_form(struct srv_req *rq, struct form *f);

/* ---- facts.c: what a request names ------------------------------------- */

struct req_facts {
	struct form form;        /* a POST's form body, or a GET's query */
	char *client_id;         /* the Basic user, else the form's; or NULL */
	/* "client_secret_basic", "client_secret_post", "client_assertion",
	 * "none" (a client_id alone), or NULL when no client is named */
	const char *client_auth;
	const char *auth_scheme; /* "Basic", "Bearer", "DPoP", "other", NULL */
	const char *grant_type;  /* the form's, borrowed; or NULL */
};

/* Reads rq as received (a handler need not have run). */
void req_facts_read(struct srv_req *rq, long max_params,
                    struct req_facts *f);
void req_facts_free(struct req_facts *f);

/* ---- journal.c: GET /_control/requests ---------------------------------- */

/* Starts td's journal. */
void journal_init(struct td_site *td);
/* srv_on_answer's hook (arg: the struct testdouble): notes the answer
 * in its site's journal. */
void journal_note(void *arg, struct srv_req *rq, int status);
void journal_clear(struct td_site *td);
/* NULL-safe on a journal never installed. */
void journal_free(struct td_site *td);
enum MHD_Result h_control_requests(struct srv_req *rq);

/* ---- registry.c: /_control/clients and /_control/users ----------------- */

enum MHD_Result h_control_clients(struct srv_req *rq);
enum MHD_Result h_control_users(struct srv_req *rq);

/* ---- device_control.c: POST /_control/device (RFC 8628) ---------------- */

enum MHD_Result h_control_device(struct srv_req *rq);

/* ---- control.c: the /_control/ endpoints (route arg: the td_site) ----- */

/* loopback.c's, for every control answer: Cache-Control: no-store. */
extern const struct hdr control_no_store[];
/* 400 invalid_request with why. */
enum MHD_Result control_bad(struct srv_req *rq, const char *why);
/* clear=true, reset=true: only "true" means yes. */
bool control_flag(const char *v);

enum MHD_Result h_control_clock(struct srv_req *rq);
enum MHD_Result h_control_faults(struct srv_req *rq);
enum MHD_Result h_control_reset(struct srv_req *rq);
enum MHD_Result h_control_tokens(struct srv_req *rq);

/* ---- claims.c: /_control/claims and the store wrapper behind it ------- */

/* Wraps td->store's user and client reads so that they merge the extras
 * set through /_control/claims (before the server starts; one per
 * site's store). 0 (err unused). */
int claim_extras_install(struct td_site *td, char *err, size_t errlen);
/* Unwraps the store and frees the extras; NULL-safe on td->claims. */
void claim_extras_free(struct td_site *td);
/* Forgets every extra claim (/_control/reset). */
void claim_extras_clear(struct td_site *td);
enum MHD_Result h_control_claims(struct srv_req *rq);
/* deny_login of /_control/faults: the next count logins of username
 * fail as for an unknown user (replacing what was armed for it). */
void deny_login_arm(struct td_site *td, const char *username, long count);
void deny_login_clear(struct td_site *td);
/* Appends {"deny_login":NAME,"remaining":N} for each armed to faults. */
void deny_login_list(struct td_site *td, json_t *faults);
/* An armed fault for rq's route, taken: answered here (true), or left
 * in *delay_ms for the caller to honour. false: no answer. */
bool fault_fire(struct td_site *td, struct srv_req *rq, long *delay_ms,
                enum MHD_Result *ret);
void faults_free(struct td_site *td);

#endif

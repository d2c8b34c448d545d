/*
 * device_control.c: POST /_control/device, the test double's way to
 * decide a device authorization (RFC 8628) without a browser: a test
 * stands in for the person at the device page. It records the same
 * decision the page records (grants_device_decide), and refuses what the
 * page refuses: an unknown, expired or decided code, a disabled client.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "testdouble_int.h"

/* user_code=CODE [username=NAME] [action=allow|deny]; allow (the
 * default) needs username. */
enum MHD_Result h_control_device(struct srv_req *rq)
{
	struct td_site *td = rq->route->arg;
	struct form f = {0};
	enum MHD_Result r;
	if (!control_form(rq, &f)) {
		form_free(&f);
		return control_bad(rq, "malformed or repeated parameters");
	}
	const char *code = form_param(&f, "user_code");
	const char *user = form_param(&f, "username");
	const char *action = form_param(&f, "action");
	bool allow = action == NULL || strcmp(action, "allow") == 0;
	if (code == NULL || (action != NULL && !allow &&
	                     strcmp(action, "deny") != 0) ||
	    (allow && user == NULL)) {
		form_free(&f);
		return control_bad(rq, "give user_code=CODE and username=NAME, "
		                   "and action=deny to deny");
	}
	char *client_id = NULL;
	struct oauth_result res = grants_device_decide(td->grants, code, user,
	                                               allow, &client_id);
	if (res.err == OAUTH_OK) {
		log_info("test double: device code of client %s %s", client_id,
		         allow ? "approved" : "denied");
		json_t *o = json_pack("{s:s, s:s, s:b}", "user_code", code,
		                      "client_id", client_id, "approved", allow);
		if (o != NULL && user != NULL)
			json_object_set_new(o, "username", json_string(user));
		r = respond_json(rq, 200, o, control_no_store);
	} else {
		r = respond_error(rq, res, control_no_store);
	}
	free(client_id);
	form_free(&f);
	return r;
}

/*
 * audit.c: the audit trail as the CLI writes and reads it: one event per
 * change a command makes (adm_audit), the fields it changed as old and
 * new values (adm_changes), and `latchkey audit list`.
 *
 * The actor is "cli:" and the name of the OS user running the command
 * (its real uid: what `runuser -u latchkey` or a login says, not a name
 * from the environment, which anyone sets). Each event also goes to
 * syslog (LOG_AUTHPRIV, so to the journal on a systemd host), where a
 * copy survives a database restored from an older backup.
 *
 * An event is written after its change committed, in a second statement:
 * a failure to write it is reported (status 1, the change named) rather
 * than hidden; the change itself stays made.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "strutil.h"

static void actor_name(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_name != NULL)
		snprintf(buf, len, "cli:%s", pw->pw_name);
	else
		snprintf(buf, len, "cli:uid %u", (unsigned)getuid());
}

json_t *adm_changes(json_t *before, json_t *after)
{
	return store_audit_changes(before, after);
}

int adm_audit(const struct adm_ctx *ctx, const char *action,
              const char *object, json_t *changes)
{
	char actor[128], *text;
	actor_name(actor, sizeof(actor));
	enum store_rc r = store_audit_record(ctx->store, clock_now(), actor,
	                                     NULL, action, object, changes,
	                                     &text);
	openlog("latchkey", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "audit: %s %s %s %.900s%s", actor, action, object,
	       text, r == STORE_OK ? "" : " (not recorded in the database)");
	closelog();
	free(text);
	if (r != STORE_OK)
		return adm_fail(ADM_EXIT_RUNTIME, "%s %s was done, but the audit "
		                "trail could not record it: %s", action, object,
		                store_rc_str(r));
	return ADM_EXIT_OK;
}

/* ---- audit list ---------------------------------------------------------- */

static int list_one(const struct store_audit *e, void *arg)
{
	char at[ADM_TIME_LEN];
	json_t *o = store_audit_json(e);
	/* The changes' names only, in text: values go to --json. */
	char names[256] = "";
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(o, "changes"), k, v)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		         "%s%s", names[0] ? "," : "", k);
	if (strlen(names) > 60) /* an add or a removal names every field */
		strcpy(names + 56, ",...");
	const char *cells[] = {adm_time(e->at, at), e->actor, e->action,
	                       e->object, names[0] ? names : "-"};
	adm_listing_add(arg, o, cells);
	return 0;
}

int cmd_audit_list(struct adm_ctx *ctx)
{
	static const char *const header[] = {"TIME", "ACTOR", "ACTION",
	                                     "OBJECT", "CHANGED"};
	struct adm_listing l;
	int rc = adm_listing_init(&l, ctx, 5, header);
	if (rc != ADM_EXIT_OK)
		return rc;
	const struct store_audit_filter f = {
		.page = &l.page, .object = adm_str(ctx->args, OPT_OBJECT),
		.actor = adm_str(ctx->args, OPT_ACTOR)};
	return adm_listing_done(&l, store_audit_list(ctx->store, &f, list_one,
	                                             &l),
	                        "listing audit events");
}

/*
 * fuzz_cli_args.c: the admin CLI's input handling (admin-cli/cli_util.c):
 * the command-line parser adm_args_parse, the reading of option values in
 * the CLI's own syntax (lifetimes; client fields through adm_client_value
 * and the client spec's client_spec_set, as `client add` does) and the
 * rules behind them (core/validate.c), and the line reader used for
 * --password-stdin.
 *
 * Input: the words after "latchkey", separated by NUL bytes. The same
 * bytes are also read as standard input by adm_read_line, line by line.
 *
 * Checks: a refused command line says why; an accepted one holds only
 * words of argv, at most one value for an option that does not repeat,
 * and none for a flag; a line read is never longer than the buffer and
 * holds no NUL.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_util.h"
#include "validate.h"

#define MAX_WORDS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	return 0;
}

/* Whether p is one of argv's strings or points inside one of them (a
 * value given as --name=value). */
static bool from_argv(const struct fz_argv *a, const char *p)
{
	for (int i = 0; i < a->argc; i++)
		if (p >= a->argv[i] && p <= a->argv[i] + strlen(a->argv[i]))
			return true;
	return false;
}

/* Every value parser of the CLI on s; none may crash, and each either
 * refuses or gives an answer within its rules. */
static void parse_value(const char *s)
{
	int64_t ttl = -1;
	if (adm_ttl_parse(s, &ttl) == 0)
		fz_check(ttl == 0 || valid_ttl(ttl));
	else
		fz_check(ttl == -1);
	/* The client options as `client add|update` reads them: the CLI's
	 * syntax, then the client spec's rule. */
	static const enum client_field fields[] = {
		CLIENT_F_ACCESS_TTL, CLIENT_F_ON_REFRESH, CLIENT_F_AUTO_APPROVE,
		CLIENT_F_NAME, CLIENT_F_SCOPES, CLIENT_F_ID_TOKEN_ALG,
	};
	const char *v[] = {s};
	const struct adm_optval ov = {1, v};
	struct store_client c = {0};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct client_value val;
		char *bad = NULL;
		if (!adm_client_value(fields[i], &ov, CLIENT_WORDS_SPLIT,
		                      STORE_DEFAULT, &val))
			continue;
		if (!client_spec_set(&c, fields[i], &val, &bad))
			fz_check(bad == NULL || strstr(s, bad) != NULL);
		free(bad);
	}
	fz_check(c.access_token_ttl == 0 || valid_ttl(c.access_token_ttl));
	fz_check(c.on_refresh == NULL ||
	         valid_on_refresh(c.on_refresh) != NULL);
	fz_check(c.auto_approve_as == NULL ||
	         strcmp(c.auto_approve_as, s) == 0);
	fz_check(c.id_token_alg == NULL ||
	         strcmp(c.id_token_alg, "RS256") == 0 ||
	         strcmp(c.id_token_alg, "ES256") == 0);
	store_client_clear(&c);
	(void)valid_client_id(s);
	(void)valid_client_name(s);
	(void)valid_secret(s);
	(void)valid_scope(s);
	(void)valid_grant_type(s);
	(void)valid_redirect_uri(s);
	(void)valid_username(s);
	(void)valid_grants_check(false, s);
	(void)valid_grants_check(true, s);
}

static void check_args(const struct fz_argv *a, const struct adm_args *p)
{
	fz_check(p->npos <= (size_t)a->argc);
	for (size_t i = 0; i < p->npos; i++) {
		fz_check(from_argv(a, p->pos[i]));
		parse_value(p->pos[i]);
	}
	for (int o = 0; o < ADM_OPT__MAX; o++) {
		const struct adm_optval *ov = &p->opt[o];
		int flags = adm_opts[o].flags;
		if (!(flags & ADM_OPT_LIST))
			fz_check(ov->n <= 1);
		fz_check(adm_has(p, (enum adm_opt)o) == (ov->n > 0));
		for (size_t i = 0; i < ov->n; i++) {
			if (!(flags & ADM_OPT_ARG)) {
				fz_check(ov->v[i] == NULL);
				continue;
			}
			fz_check(ov->v[i] != NULL && from_argv(a, ov->v[i]));
			parse_value(ov->v[i]);
		}
		if (ov->n > 0)
			fz_check(adm_str(p, (enum adm_opt)o) == ov->v[ov->n - 1]);
	}
}

/* The same bytes as standard input for --password-stdin. */
static void read_lines(const uint8_t *data, size_t size)
{
	if (size == 0)
		return;
	FILE *f = fmemopen((void *)data, size, "r");
	fz_check(f != NULL);
	char buf[ADM_PASSWORD_BUF];
	for (;;) {
		long n = adm_read_line(f, buf, sizeof(buf));
		if (n == ADM_LINE_EOF)
			break;
		if (n >= 0) {
			fz_check((size_t)n < sizeof(buf));
			fz_check(strlen(buf) == (size_t)n);
		} else {
			fz_check(n == ADM_LINE_LONG || n == ADM_LINE_NUL);
			/* Past a long line, as the CLI does not: it stops. */
			if (n == ADM_LINE_LONG)
				break;
		}
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *lead[] = {"latchkey", NULL};
	struct fz_argv a;
	fz_argv_split(&a, data, size, lead, MAX_WORDS);

	struct adm_args p;
	char err[256];
	memset(err, 0x5a, sizeof(err));
	err[0] = '\0';
	if (adm_args_parse(a.argc, a.argv, &p, err, sizeof(err)) == 0)
		check_args(&a, &p);
	else
		fz_check(err[0] != '\0');
	adm_args_free(&p);
	fz_argv_free(&a);

	read_lines(data, size);
	return 0;
}

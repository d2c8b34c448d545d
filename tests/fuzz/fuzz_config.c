/*
 * fuzz_config.c: core/config.c, latchkeyd's settings: the INI file
 * (--config, read by libinih) and the command line.
 *
 * Input: the INI file's bytes, a NUL, then the command-line words
 * separated by NUL bytes. The file is written to a private temporary
 * directory and named first on the command line (--config PATH), so a
 * --config among the fuzzer's words cannot point the parser elsewhere;
 * it is only a setting then. LATCHKEY_* variables are removed at start so
 * the environment of the run plays no part. --help and --version print to
 * /dev/null.
 *
 * Checks: a refusal comes with a message; an accepted configuration has
 * the values everything after config_load relies on (a listen host, a
 * non-empty db, a known algorithm, log format and level, endpoint paths
 * starting with '/').
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

#define MAX_WORDS 64

extern char **environ;

static struct {
	char *dir, *file;
	FILE *devnull;
} fx;

static void cleanup(void)
{
	fclose(fx.devnull);
	fz_rmtree(fx.dir);
	free(fx.dir);
	free(fx.file);
}

/* Removes every LATCHKEY_* variable (unsetenv changes environ, so the
 * walk starts again after each). */
static void clear_latchkey_env(void)
{
	for (;;) {
		char name[256] = "";
		for (char **e = environ; *e != NULL; e++) {
			const char *eq = strchr(*e, '=');
			size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
			if (strncmp(*e, "LATCHKEY_", 9) == 0 && n < sizeof(name)) {
				memcpy(name, *e, n);
				break;
			}
		}
		if (name[0] == '\0')
			return;
		unsetenv(name);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	clear_latchkey_env();
	fx.dir = fz_tmpdir();
	fx.file = fz_path(fx.dir, "latchkeyd.ini");
	fx.devnull = fopen("/dev/null", "w");
	fz_check(fx.devnull != NULL);
	atexit(cleanup);
	return 0;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static void check_config(const struct lk_config *c)
{
	static const char *const algs[] = {"ES256", "RS256", NULL};
	static const char *const formats[] = {"text", "json", NULL};
	static const char *const levels[] = {"debug", "info", "warn", "error",
	                                     NULL};
	static const char *const policies[] = {"nothing", "revoke", "hook",
	                                       NULL};
	fz_check(c->listen_host != NULL && c->listen_host[0] != '\0');
	fz_check(c->listen_port >= 0 && c->listen_port <= 65535);
	fz_check(c->db != NULL && c->db[0] != '\0');
	fz_check(one_of(c->signing_alg, algs));
	fz_check(one_of(c->log_format, formats));
	fz_check(one_of(c->log_level, levels));
	fz_check(one_of(c->on_refresh, policies));
	const char *paths[] = {c->token_path, c->authorize_path, c->revoke_path,
	                       c->introspect_path, c->jwks_path,
	                       c->metadata_path, c->resource_path};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		fz_check(paths[i] != NULL && paths[i][0] == '/');
	fz_check(c->max_body_size > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t ini_len = nul ? (size_t)(nul - data) : size;
	fz_write_file(fx.file, data, ini_len);

	const char *lead[] = {"latchkeyd", "--config", fx.file, NULL};
	struct fz_argv a;
	if (nul != NULL)
		fz_argv_split(&a, nul + 1, size - ini_len - 1, lead, MAX_WORDS);
	else
		fz_argv_split(&a, NULL, 0, lead, MAX_WORDS);

	struct lk_config c;
	char err[512];
	memset(err, 0x5a, sizeof(err));
	enum config_result r =
	    config_load(&c, a.argc, a.argv, fx.devnull, err, sizeof(err));
	if (r == CONFIG_ERR)
		fz_check(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	else if (r == CONFIG_OK)
		check_config(&c);
	else
		fz_check(r == CONFIG_EXIT || r == CONFIG_VERSION);
	config_free(&c);
	fz_argv_free(&a);
	return 0;
}

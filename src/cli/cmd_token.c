/*
 * `cmhook token [--refresh]`: print a valid access token and nothing else on
 * stdout, for scripts (`curl -H "Authorization: Bearer $(cmhook token)"`).
 * The token comes from the cache in DATA_DIR while it is fresh.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ims.h"

struct token_opts {
	bool refresh;
};

static int on_opt(int opt, const char *arg, void *ud)
{
	struct token_opts *o = ud;

	(void)arg;
	if (opt == 'r') {
		o->refresh = true;
		return 0;
	}
	return 2;
}

static int run_token(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "refresh", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct token_opts o = { 0 };
	struct cmh_ims *ims = NULL;
	struct cmh_buf err;
	char *token = NULL;
	bool done;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_token, argc, argv, ":hr", longopts, on_opt, &o, &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	rc = cmh_cli_load_config(cli, CMH_NEED_TOKEN);
	if (rc)
		return rc;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (cmh_ims_new(&cli->cfg, NULL, NULL, &ims)) {
		cmh_cli_error(cli, "out of memory");
		rc = 1;
		goto out;
	}
	enum cmh_err e = cmh_ims_get(ims, o.refresh, &token, &err);
	if (e) {
		cmh_cli_error(cli, "%s", err.len ? err.data : cmh_strerror(e));
		rc = cmh_err_exit_code(e);
		goto out;
	}
	printf("%s\n", token);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	cmh_token_string_free(token);
	cmh_ims_free(ims);
	cmh_buf_release(&err);
	return rc;
}

const struct cmh_cli_command cmh_cmd_token = {
	.name = "token",
	.run = run_token,
	.args = "[--refresh]",
	.summary = "print a valid Cloud Manager access token (cached until shortly before expiry)",
	.help =
		"Options:\n"
		"  --refresh   ask IMS for a new token even if the cached one is still valid\n"
		"\n"
		"Prints the token and nothing else on stdout. Needs CLIENT_ID, CLIENT_SECRET (or\n"
		"CLIENT_SECRET_FILE) and SCOPES. The token is cached in DATA_DIR/token.json (mode 0600).\n",
};

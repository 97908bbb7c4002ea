/*
 * `cmhook check`: the tutorial's environment check done well. Three steps,
 * each reported on its own line; the first failure names the step and why:
 *   configuration -> token from IMS -> GET /api/programs lists programs.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cmapi.h"
#include "ims.h"
#include "resource.h"

static void step_ok(const char *step, const char *detail)
{
	printf("%-14s ok      %s\n", step, detail);
}

static void step_failed(const char *step, const char *why)
{
	printf("%-14s FAILED  %s\n", step, why);
}

static int check_config(struct cmh_cli *cli)
{
	struct cmh_buf err;
	int rc = 0;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (!cli->have_cfg) {
		if (cmh_config_load(&cli->cfg, cli->env_file, cli->data_dir, &err)) {
			step_failed("configuration", err.data);
			rc = 2;
			goto out;
		}
		cli->have_cfg = true;
		cmh_log_set_level(cli->cfg.log_level);
	}
	if (cmh_config_require(&cli->cfg, CMH_NEED_TOKEN | CMH_NEED_API, &err)) {
		step_failed("configuration", err.data);
		rc = 2;
		goto out;
	}
	step_ok("configuration", cli->cfg.env_file ? cli->cfg.env_file : "environment only");
out:
	cmh_buf_release(&err);
	return rc;
}

static int check_token(struct cmh_cli *cli, struct cmh_ims *ims)
{
	struct cmh_buf err;
	char *token = NULL;
	enum cmh_err e;
	char detail[300];

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	e = cmh_ims_get(ims, false, &token, &err);
	if (e)
		step_failed("token", err.len ? err.data : cmh_strerror(e));
	else {
		snprintf(detail, sizeof(detail), "from %s", cli->cfg.ims_url);
		step_ok("token", detail);
	}
	cmh_token_string_free(token);
	cmh_buf_release(&err);
	return e ? 1 : 0;
}

static void print_programs(const struct cmh_program_list *l)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "%zu program%s found", l->n, l->n == 1 ? "" : "s");
	step_ok("api", detail);
	for (size_t i = 0; i < l->n; i++)
		printf("  %-10s %s\n", l->items[i].id, l->items[i].name);
}

static int check_api(struct cmh_cli *cli, struct cmh_ims *ims)
{
	struct cmh_http_response resp;
	struct cmh_program_list programs;
	struct cmh_buf err;
	char why[CMH_BUF_MAX_ERRMSG + 64];
	int rc = 1;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	cmh_http_response_init(&resp);
	if (cmh_cmapi_call(&cli->cfg, ims, NULL, "/api/programs", NULL, 0, &resp, &err)) {
		step_failed("api", err.data);
		goto out;
	}
	if (resp.status != 200) {
		snprintf(why, sizeof(why), "GET /api/programs answered %ld%s%s%s", resp.status,
			 resp.status == 403 ? " (does the credential have a Cloud Manager product profile?)" :
			 resp.status == 401 ? " (token refused)" : "",
			 resp.request_id[0] ? " x-request-id=" : "", resp.request_id);
		step_failed("api", why);
		goto out;
	}
	if (cmh_resource_parse_program_list(resp.body.data, resp.body.len, &programs, &err)) {
		step_failed("api", err.data);
		goto out;
	}
	print_programs(&programs);
	cmh_program_list_release(&programs);
	rc = 0;
out:
	cmh_http_response_release(&resp);
	cmh_buf_release(&err);
	return rc;
}

#define OPT_CONFIG_ONLY 1000

static int on_opt(int opt, const char *arg, void *ud)
{
	(void)arg;
	if (opt != OPT_CONFIG_ONLY)
		return 2;
	*(bool *)ud = true;
	return 0;
}

static int run_check(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "config-only", no_argument, NULL, OPT_CONFIG_ONLY },
		{ NULL, 0, NULL, 0 },
	};
	struct cmh_ims *ims = NULL;
	bool done, config_only = false;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_check, argc, argv, ":h", longopts, on_opt, &config_only,
			    &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	rc = check_config(cli);
	/* `make run` asks this to choose between serve and demo: no network. */
	if (rc || config_only)
		goto out;
	if (cmh_ims_new(&cli->cfg, NULL, NULL, &ims)) {
		rc = 1;
		goto out;
	}
	rc = check_token(cli, ims);
	if (!rc)
		rc = check_api(cli, ims);
out:
	cmh_ims_free(ims);
	fflush(stdout);
	return rc;
}

const struct cmh_cli_command cmh_cmd_check = {
	.name = "check",
	.run = run_check,
	.args = "[--config-only]",
	.summary = "check configuration, token and Cloud Manager API access; list the programs",
	.help =
		"Runs three steps and reports each: the configuration is complete, IMS issues a\n"
		"token, and GET /api/programs succeeds (the programs found are listed). The first\n"
		"failing step is named with the reason. Exit 0 when all pass, 2 for a configuration\n"
		"problem, 1 otherwise.\n"
		"\n"
		"  --config-only   only check that the configuration is complete (the first step;\n"
		"                  no network): exit 0 or 2\n",
};

/*
 * Helpers shared by the subcommands: configuration loading with the exit
 * code policy, error lines, per-command help and option parsing.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "journal.h"

void cmh_cli_error(const struct cmh_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cmhook %s: ", cli->command ? cli->command : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmh_cli_load_config(struct cmh_cli *cli, unsigned need)
{
	struct cmh_buf err;
	int rc = 0;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (!cli->have_cfg) {
		if (cmh_config_load(&cli->cfg, cli->env_file, cli->data_dir, &err)) {
			cmh_cli_error(cli, "%s", err.data);
			rc = 2;
			goto out;
		}
		cli->have_cfg = true;
		cmh_log_set_level(cli->cfg.log_level);
	}
	if (need && cmh_config_require(&cli->cfg, need, &err)) {
		cmh_cli_error(cli, "%s", err.data);
		rc = 2;
	}
out:
	cmh_buf_release(&err);
	return rc;
}

void cmh_cli_usage(const struct cmh_cli_command *cmd)
{
	printf("usage: cmhook [--env FILE] [--data-dir DIR] %s%s%s\n\n%s\n", cmd->name,
	       cmd->args[0] ? " " : "", cmd->args, cmd->summary);
	if (cmd->help && cmd->help[0])
		printf("\n%s", cmd->help);
}

int cmh_cli_getopt(struct cmh_cli *cli, const struct cmh_cli_command *cmd, int argc, char **argv,
		   const char *shortopts, const struct option *longopts,
		   int (*on_opt)(int opt, const char *arg, void *ud), void *ud, bool *ret_done)
{
	int c, rc;

	*ret_done = false;
	optind = 0; /* GNU getopt: 0 re-initialises scanning for a new argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h') {
			cmh_cli_usage(cmd);
			*ret_done = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			if (optopt && c == ':')
				cmh_cli_error(cli, "option -%c needs a value (see cmhook %s --help)",
					      optopt, cmd->name);
			else
				cmh_cli_error(cli, "unknown or incomplete option '%s' (see cmhook %s --help)",
					      argv[optind - 1], cmd->name);
			*ret_done = true;
			return 2;
		}
		rc = on_opt ? on_opt(c, optarg, ud) : 2;
		if (rc) {
			*ret_done = true;
			return rc;
		}
	}
	return 0;
}

int cmh_cli_open_journal(struct cmh_cli *cli, struct cmh_journal **ret)
{
	struct cmh_buf path, err;
	enum cmh_err e;
	int rc = 0;

	cmh_buf_init(&path, CMH_BUF_MAX_SMALL);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (cmh_buf_addf(&path, "%s/journal.db", cli->cfg.data_dir)) {
		cmh_cli_error(cli, "DATA_DIR is too long");
		rc = 2;
		goto out;
	}
	e = cmh_journal_open_client(path.data, ret, &err);
	if (e == CMH_ERR_NOT_FOUND)
		rc = 3;
	else if (e) {
		cmh_cli_error(cli, "cannot open %s: %s", path.data, err.len ? err.data : cmh_strerror(e));
		rc = 1;
	}
out:
	cmh_buf_release(&path);
	cmh_buf_release(&err);
	return rc;
}

int cmh_cli_no_more_args(const struct cmh_cli *cli, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	cmh_cli_error(cli, "unexpected argument '%s'", argv[optind]);
	return 2;
}

/*
 * cmhook: the one binary. Parses the global options, dispatches to a
 * subcommand (src/cli/cmd_*.c) and owns the exit code: 0 success, 1 runtime
 * failure, 2 usage or configuration error (INTERFACE.md).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "http_client.h"
#include "log.h"

static const struct cmh_cli_command *const commands[] = {
	&cmh_cmd_serve,
	&cmh_cmd_token,
	&cmh_cmd_check,
	&cmh_cmd_api,
	&cmh_cmd_events,
	&cmh_cmd_replay,
	&cmh_cmd_config,
	&cmh_cmd_demo,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_main_help(FILE *out)
{
	fprintf(out,
		"usage: cmhook [--env FILE] [--data-dir DIR] COMMAND [ARGS]\n"
		"       cmhook --help | --version\n"
		"\n"
		"Receives Adobe Cloud Manager pipeline events and tells your team in Slack, Teams or any\n"
		"webhook.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  --env FILE       read settings from FILE instead of ./.env\n"
		"  --data-dir DIR   journal and token cache directory (overrides DATA_DIR)\n"
		"  -h, --help       show this help; `cmhook COMMAND --help` for a command\n"
		"  -V, --version    show the version\n"
		"\n"
		"Settings come from ./.env (or --env FILE) and the environment, which wins.\n"
		"Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n");
}

static const struct cmh_cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmh_cli cli = { .argv = argv };
	const struct cmh_cli_command *cmd;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'e': cli.env_file = optarg; break;
		case 'd': cli.data_dir = optarg; break;
		case 'h': print_main_help(stdout); return 0;
		case 'V': printf("cmhook %s\n", CMH_VERSION); return 0;
		default:
			fprintf(stderr, "cmhook: unknown option '%s' (see cmhook --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		print_main_help(stderr);
		return 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "cmhook: unknown command '%s' (see cmhook --help)\n", argv[optind]);
		return 2;
	}
	cli.command = cmd->name;
	if (cmh_http_global_init()) {
		fprintf(stderr, "cmhook: cannot initialise libcurl\n");
		return 1;
	}
	rc = cmd->run(&cli, argc - optind, argv + optind);
	if (cli.have_cfg)
		cmh_config_release(&cli.cfg);
	cmh_http_global_cleanup();
	return rc;
}

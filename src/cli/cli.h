/*
 * What the subcommands share: the global options, the loaded configuration
 * and a few helpers for reporting. One file per subcommand in src/cli/; the
 * dispatch table and exit-code policy live in src/main.c.
 */
#ifndef CMH_CLI_H
#define CMH_CLI_H

#include <stdbool.h>

#include "config.h"

struct cmh_cli {
	const char *env_file;    /* --env FILE, or NULL for ./.env */
	const char *data_dir;    /* --data-dir DIR, or NULL */
	const char *command;     /* the subcommand's name, for messages */
	char **argv;             /* the whole command line, for `serve` to re-execute itself */
	struct cmh_config cfg;
	bool have_cfg;
};

/* A subcommand: argv[0] is its name; returns the process exit code. */
struct cmh_cli_command {
	const char *name;
	int (*run)(struct cmh_cli *cli, int argc, char **argv);
	const char *args;        /* synopsis after the name */
	const char *summary;     /* one line */
	const char *help;        /* the rest of `cmhook NAME --help` */
};

extern const struct cmh_cli_command cmh_cmd_serve, cmh_cmd_token, cmh_cmd_check, cmh_cmd_api,
	cmh_cmd_events, cmh_cmd_replay, cmh_cmd_config, cmh_cmd_demo;

/*
 * Load the configuration and check that the settings `need` (enum
 * cmh_config_need) requires are present. On failure prints one line and
 * returns exit code 2; on success returns 0 and sets the log level.
 */
int cmh_cli_load_config(struct cmh_cli *cli, unsigned need);

/* "cmhook CMD: <message>" on stderr. */
void cmh_cli_error(const struct cmh_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct cmh_journal;
/*
 * Open DATA_DIR/journal.db for a short command. Returns 0 with *ret set, 3
 * when there is no journal yet (nothing has been received), or an exit code
 * after printing the reason.
 */
int cmh_cli_open_journal(struct cmh_cli *cli, struct cmh_journal **ret);

/* After the options: complain about a leftover argument (returns 2), else 0. */
int cmh_cli_no_more_args(const struct cmh_cli *cli, int argc, char **argv);

/* Print `cmhook NAME --help` for cmd on stdout. */
void cmh_cli_usage(const struct cmh_cli_command *cmd);

/*
 * Parse a command's own options. Handles --help (prints usage, returns 0
 * with *ret_done set) and unknown options (error, returns 2 with *ret_done
 * set). `shortopts` and `longopts` as for getopt_long; each recognised option
 * is handed to on_opt, which returns 0 or an exit code.
 */
struct option;
int cmh_cli_getopt(struct cmh_cli *cli, const struct cmh_cli_command *cmd, int argc, char **argv,
	const char *shortopts, const struct option *longopts,
	int (*on_opt)(int opt, const char *arg, void *ud), void *ud, bool *ret_done);

#endif

/*
 * `cmhook replay EVENT_ID...` / `cmhook replay --failed`: put events back to
 * pending so the workers deliver them again (failed channels only; channels
 * that already got the message are not repeated).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "journal.h"

static int on_opt(int opt, const char *arg, void *ud)
{
	bool *failed = ud;

	(void)arg;
	if (opt == 'f') {
		*failed = true;
		return 0;
	}
	return 2;
}

static int replay_ids(struct cmh_cli *cli, struct cmh_journal *j, char **ids, size_t n)
{
	bool *found = calloc(n, sizeof(*found));
	size_t changed = 0;
	int rc = 0;

	if (!found)
		return 1;
	if (cmh_journal_replay_ids(j, (const char *const *)ids, n, &changed, found)) {
		cmh_cli_error(cli, "cannot update the journal");
		free(found);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!found[i]) {
			cmh_cli_error(cli, "no such event: %s", ids[i]);
			rc = 1;
		}
	}
	printf("%zu event%s put back to pending\n", changed, changed == 1 ? "" : "s");
	free(found);
	return rc;
}

static int run_replay(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "failed", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmh_journal *j = NULL;
	bool failed = false, done;
	size_t changed = 0;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_replay, argc, argv, ":hf", longopts, on_opt, &failed,
			    &done);
	if (done)
		return rc;
	if (failed == (optind < argc)) {
		cmh_cli_error(cli, "give either event ids or --failed (see cmhook replay --help)");
		return 2;
	}
	rc = cmh_cli_load_config(cli, 0);
	if (rc)
		return rc;
	rc = cmh_cli_open_journal(cli, &j);
	if (rc == 3) {
		cmh_cli_error(cli, "no journal in %s yet", cli->cfg.data_dir);
		return 1;
	}
	if (rc)
		return rc;
	if (!failed) {
		rc = replay_ids(cli, j, argv + optind, (size_t)(argc - optind));
	} else if (cmh_journal_replay_failed(j, &changed)) {
		cmh_cli_error(cli, "cannot update the journal");
		rc = 1;
	} else {
		printf("%zu failed event%s put back to pending\n", changed, changed == 1 ? "" : "s");
	}
	cmh_journal_close(j);
	return fflush(stdout) ? 1 : rc;
}

const struct cmh_cli_command cmh_cmd_replay = {
	.name = "replay",
	.run = run_replay,
	.args = "EVENT_ID... | --failed",
	.summary = "put events back to pending so they are delivered again",
	.help =
		"Options:\n"
		"  --failed   replay every event in status failed\n"
		"\n"
		"A replayed event is retried by the running `cmhook serve` (or the next one started)\n"
		"on the channels where it had not been delivered. Exit 1 if an id does not exist.\n",
};

/*
 * `cmhook events [--status S] [--limit N] [--json]`: list journaled events,
 * newest first. Works while `serve` runs on the same journal (WAL readers do
 * not block the writer). Needs no credentials.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "journal.h"
#include "parse.h"

#define EVENTS_DEFAULT_LIMIT 50

struct events_opts {
	const char *status;
	unsigned limit;
	bool json;
	bool bad_limit;
};

static int on_opt(int opt, const char *arg, void *ud)
{
	struct events_opts *o = ud;
	uint64_t v;

	switch (opt) {
	case 's':
		o->status = arg;
		return 0;
	case 'n':
		if (cmh_parse_u64(arg, &v) || v < 1 || v > CMH_JOURNAL_LIST_MAX) {
			fprintf(stderr, "cmhook events: --limit expects 1-%d, got '%s'\n",
				CMH_JOURNAL_LIST_MAX, arg);
			return 2;
		}
		o->limit = (unsigned)v;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	default:
		return 2;
	}
}

static enum cmh_err print_json_row(const struct cmh_journal_row *row, void *ud)
{
	json_t *deliveries = row->deliveries_json ?
		json_loads(row->deliveries_json, 0, NULL) : NULL;
	char when[32];
	json_t *o;
	char *line;

	(void)ud;
	cmh_format_time(row->received_at_ms, when);
	if (!json_is_array(deliveries)) {
		json_decref(deliveries);
		deliveries = json_array();
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}",
		      "event_id", row->event_id,
		      "received_at", when,
		      "kind", row->kind,
		      "status", cmh_journal_status_name(row->status),
		      "attempts", (json_int_t)row->attempts,
		      "last_error", row->last_error ? json_string(row->last_error) : json_null(),
		      "object_url", row->object_url ? json_string(row->object_url) : json_null(),
		      "event_urn", row->event_urn ? json_string(row->event_urn) : json_null(),
		      "deliveries", deliveries);
	if (!o)
		return CMH_ERR_NOMEM;
	line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!line)
		return CMH_ERR_NOMEM;
	puts(line);
	free(line);
	return CMH_OK;
}

static enum cmh_err print_text_row(const struct cmh_journal_row *row, void *ud)
{
	bool *header_done = ud;
	char when[32];

	if (!*header_done) {
		printf("%-36s  %-20s  %-12s  %-8s  %3s  %s\n", "EVENT ID", "RECEIVED", "KIND",
		       "STATUS", "TRY", "LAST ERROR");
		*header_done = true;
	}
	cmh_format_time(row->received_at_ms, when);
	printf("%-36s  %-20s  %-12s  %-8s  %3u  %s\n", row->event_id, when, row->kind,
	       cmh_journal_status_name(row->status), row->attempts,
	       row->last_error ? row->last_error : "");
	return CMH_OK;
}

static int run_events(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct events_opts o = { .limit = EVENTS_DEFAULT_LIMIT };
	enum cmh_journal_status st;
	struct cmh_journal *j = NULL;
	bool header_done = false;
	enum cmh_err e;
	bool done;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_events, argc, argv, ":hs:n:j", longopts, on_opt, &o,
			    &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	if (o.status && cmh_journal_status_parse(o.status, &st)) {
		cmh_cli_error(cli, "unknown status '%s' (pending, processing, done, failed, ignored)",
			      o.status);
		return 2;
	}
	rc = cmh_cli_load_config(cli, 0);
	if (rc)
		return rc;
	rc = cmh_cli_open_journal(cli, &j);
	if (rc)
		return rc == 3 ? 0 : rc; /* no journal yet: nothing to list */
	e = cmh_journal_list(j, o.status, o.limit, o.json ? print_json_row : print_text_row,
			     &header_done);
	if (e) {
		cmh_cli_error(cli, "cannot read the journal: %s", cmh_strerror(e));
		rc = 1;
	}
	cmh_journal_close(j);
	return fflush(stdout) ? 1 : rc;
}

const struct cmh_cli_command cmh_cmd_events = {
	.name = "events",
	.run = run_events,
	.args = "[--status S] [--limit N] [--json]",
	.summary = "list journaled events, newest first",
	.help =
		"Options:\n"
		"  --status S   only events in status S: pending, processing, done, failed, ignored\n"
		"  --limit N    at most N events (default 50)\n"
		"  --json       one JSON object per line: event_id, received_at, kind, status,\n"
		"               attempts, last_error, object_url, event_urn, and deliveries\n"
		"               (per channel: channel, status, attempts, last_error)\n"
		"\n"
		"Reads DATA_DIR/journal.db; safe to run while `cmhook serve` is running.\n",
};

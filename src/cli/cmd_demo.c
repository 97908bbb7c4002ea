/*
 * `cmhook demo`: the whole flow without credentials. Starts the simulation
 * of Adobe (src/demo/) on 127.0.0.1, runs the real `cmhook serve` against it
 * as a child process, plays two pipeline runs as signed event deliveries,
 * then prints what each channel received and how to configure the real
 * thing. The channels shown are the kinds the user configured (each pointed
 * at a local sink, never at the configured URL), or all of them.
 */
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "cli.h"
#include "demo/demo.h"
#include "dotenv.h"
#include "ims.h"

#define MAX_ENV       32
#define REPORT_MAX    (2 * 1024 * 1024)
#define LOG_TAIL      4096
#define INDENT        "     "

static cmh_demo_stop_flag stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Everything one demo run owns, released by demo_release() in reverse order. */
struct demo {
	char *tmp;                   /* temp dir, removed at the end */
	struct cmh_demo_world *world;
	struct cmh_demo_key *key;
	struct cmh_demo_sim *sim;
	struct cmh_demo_sinks *sinks;
	struct cmh_demo_child *child;
	unsigned notify_events;
	char *env[MAX_ENV + 1];
	size_t n_env;
};

/* ---- setup --------------------------------------------------------------- */

struct key_search {
	const char *key;
	bool found;
};

static int find_key(const char *key, const char *value, unsigned line, void *ud)
{
	struct key_search *ks = ud;

	(void)value;
	(void)line;
	if (strcmp(key, ks->key) == 0)
		ks->found = true;
	return 0;
}

/* True when key is set in the environment or the dotenv file that was read. */
static bool setting_given(const struct cmh_config *cfg, const char *key)
{
	struct key_search ks = { .key = key, .found = getenv(key) != NULL };
	struct cmh_buf text;
	char chunk[4096];
	size_t n;
	FILE *f;

	if (ks.found || !cfg->env_file || !(f = fopen(cfg->env_file, "re")))
		return ks.found;
	cmh_buf_init(&text, CMH_MAX_DOTENV_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (cmh_buf_add(&text, chunk, n))
			break;
	}
	fclose(f);
	(void)!cmh_dotenv_parse(text.data, text.len, cfg->env_file, find_key, &ks, NULL);
	cmh_buf_release(&text);
	return ks.found;
}

/* The kinds to show: those configured, else every one. */
static int pick_channels(struct cmh_cli *cli, enum cmh_channel_kind kinds[], size_t *ret_n)
{
	static const enum cmh_channel_kind all[] = { CMH_CHANNEL_SLACK,
		CMH_CHANNEL_TEAMS_ADAPTIVECARD, CMH_CHANNEL_WEBHOOK };
	struct cmh_channel ch[CMH_NOTIFY_MAX_CHANNELS];
	struct cmh_buf err;
	size_t n = 0;
	int rc = 0;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (cmh_notify_channels(&cli->cfg, ch, &n, &err)) {
		cmh_cli_error(cli, "%s", err.data);
		rc = 2;
	} else if (n == 0) {
		memcpy(kinds, all, sizeof(all));
		*ret_n = sizeof(all) / sizeof(all[0]);
	} else {
		/* Only the kind: the configured URL itself is never used here. */
		for (size_t i = 0; i < n; i++)
			kinds[i] = ch[i].kind;
		*ret_n = n;
	}
	cmh_buf_release(&err);
	return rc;
}

static int env_add(struct demo *d, const char *key, const char *value)
{
	struct cmh_buf b;

	if (d->n_env >= MAX_ENV)
		return -1;
	cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
	if (cmh_buf_addf(&b, "%s=%s", key, value)) {
		cmh_buf_release(&b);
		return -1;
	}
	d->env[d->n_env++] = cmh_buf_detach(&b, NULL);
	return d->env[d->n_env - 1] ? 0 : -1;
}

/* NOTIFY_EVENTS syntax for bits: "all" or the kind names joined by ','. */
static void notify_events_text(unsigned bits, char *out, size_t n)
{
	size_t used = 0;

	if ((bits & CMH_KIND_BIT_ALL) == CMH_KIND_BIT_ALL) {
		snprintf(out, n, "all");
		return;
	}
	out[0] = '\0';
	for (int k = CMH_KIND_STARTED; k < CMH_KIND_OTHER && used < n; k++) {
		if (bits & cmh_event_kind_bit((enum cmh_event_kind)k))
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "," : "",
						 cmh_event_kind_name((enum cmh_event_kind)k));
	}
}

/* The child's whole environment: nothing of the user's settings but the
 * channel kinds and NOTIFY_EVENTS, every URL pointing at the simulation. */
static int build_env(struct demo *d)
{
	static const char *const passed[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
					      "TMPDIR", NULL };
	char data_dir[4096], events[128];
	int rc = 0;

	snprintf(data_dir, sizeof(data_dir), "%s/data", d->tmp);
	notify_events_text(d->notify_events, events, sizeof(events));
	rc |= env_add(d, "CLIENT_ID", CMH_DEMO_CLIENT_ID);
	rc |= env_add(d, "CLIENT_SECRET", "demo-secret-not-a-real-one");
	rc |= env_add(d, "SCOPES", CMH_DEMO_SCOPES);
	rc |= env_add(d, "ORGANIZATION_ID", CMH_DEMO_ORG);
	rc |= env_add(d, "IMS_URL", cmh_demo_sim_ims_url(d->sim));
	rc |= env_add(d, "CLOUDMANAGER_API_URL", cmh_demo_sim_api_url(d->sim));
	rc |= env_add(d, "EVENTS_KEY_URL", cmh_demo_sim_keys_url(d->sim));
	rc |= env_add(d, "PORT", "0");
	rc |= env_add(d, "LISTEN_ADDRESS", "127.0.0.1");
	rc |= env_add(d, "DATA_DIR", data_dir);
	rc |= env_add(d, "NOTIFY_EVENTS", events);
	rc |= env_add(d, "RETRY_INITIAL", "200ms");
	/* The sinks are ours: no need to keep to Slack's or Teams' rates. */
	rc |= env_add(d, "PACE_CHANNELS", "off");
	/* info, not warn: the port is learnt from the `msg=listening` line. */
	rc |= env_add(d, "LOG_LEVEL", "info");
	for (size_t i = 0; i < cmh_demo_sinks_n(d->sinks); i++) {
		enum cmh_channel_kind k = cmh_demo_sinks_kind(d->sinks, i);
		const char *url = cmh_demo_sinks_url(d->sinks, i);

		if (k == CMH_CHANNEL_SLACK)
			rc |= env_add(d, "SLACK_WEBHOOK", url);
		else if (k == CMH_CHANNEL_WEBHOOK)
			rc |= env_add(d, "NOTIFY_WEBHOOK", url);
		else {
			rc |= env_add(d, "TEAMS_WEBHOOK", url);
			rc |= env_add(d, "TEAMS_FORMAT", k == CMH_CHANNEL_TEAMS_MESSAGECARD ?
				      "messagecard" : "adaptivecard");
		}
	}
	for (size_t i = 0; passed[i]; i++) {
		if (getenv(passed[i]))
			rc |= env_add(d, passed[i], getenv(passed[i]));
	}
	d->env[d->n_env] = NULL;
	return rc;
}

static int make_tmp(struct cmh_cli *cli, struct demo *d)
{
	const char *base = getenv("TMPDIR");
	struct cmh_buf b;

	cmh_buf_init(&b, CMH_BUF_MAX_SMALL);
	if (cmh_buf_addf(&b, "%s/cmhook-demo-XXXXXX", base && *base ? base : "/tmp") ||
	    !mkdtemp(b.data)) {
		cmh_cli_error(cli, "cannot create a temporary directory under %s",
			      base && *base ? base : "/tmp");
		cmh_buf_release(&b);
		return 1;
	}
	d->tmp = cmh_buf_detach(&b, NULL);
	return d->tmp ? 0 : 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path); /* keep going: remove what we can */
	return 0;
}

static void demo_release(struct demo *d)
{
	cmh_demo_child_free(d->child);
	cmh_demo_sinks_stop(d->sinks);
	cmh_demo_sim_stop(d->sim);
	cmh_demo_world_free(d->world);
	cmh_demo_key_free(d->key);
	if (d->tmp)
		(void)nftw(d->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(d->tmp);
	for (size_t i = 0; i < d->n_env; i++)
		free(d->env[i]);
}

/* Simulation, sinks, then the daemon; exit code 0 or 1 after printing why. */
static int start_all(struct cmh_cli *cli, struct demo *d, const enum cmh_channel_kind *kinds,
		     size_t n_kinds, uint16_t *ret_port)
{
	struct cmh_buf err;
	enum cmh_err e;
	int rc = 1;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (make_tmp(cli, d))
		goto out;
	if (cmh_demo_world_new(cmh_clock_realtime_ms(NULL), &d->world) ||
	    cmh_demo_key_new(&d->key, &err) ||
	    cmh_demo_sim_start(d->world, d->key, &d->sim, &err) ||
	    cmh_demo_sinks_start(kinds, n_kinds, &d->sinks, &err)) {
		cmh_cli_error(cli, "cannot start the simulation: %s",
			      err.len ? err.data : "out of memory");
		goto out;
	}
	if (build_env(d) || cmh_demo_child_start((const char *const *)d->env, d->tmp, &d->child,
						 &err)) {
		cmh_cli_error(cli, "%s", err.len ? err.data : "cannot start cmhook serve");
		goto out;
	}
	e = cmh_demo_child_wait_port(d->child, CMH_DEMO_START_TIMEOUT_MS, &stop_requested,
				     ret_port);
	if (e) {
		cmh_cli_error(cli, "cmhook serve %s", e == CMH_ERR_TIMEOUT ?
			      "did not start listening in time" : "stopped before listening");
		goto out;
	}
	rc = 0;
out:
	cmh_buf_release(&err);
	return rc;
}

/* ---- output -------------------------------------------------------------- */

/* Each message's lines are indented by INDENT; the number goes in the
 * first line's indentation ("  3) Pipeline execution started"). */
static enum cmh_err report_channel(struct demo *d, size_t i, struct cmh_buf *out)
{
	enum cmh_channel_kind kind = cmh_demo_sinks_kind(d->sinks, i);
	size_t n = cmh_demo_sinks_count(d->sinks, i), len;
	struct cmh_buf msg;
	enum cmh_err err;
	const char *m;
	char num[16];

	cmh_buf_init(&msg, REPORT_MAX);
	err = cmh_buf_addf(out, "\n=== %s: %zu message%s ===\n", cmh_demo_channel_title(kind), n,
			   n == 1 ? "" : "s");
	for (size_t j = 0; !err && (m = cmh_demo_sinks_message(d->sinks, i, j, &len)); j++) {
		cmh_buf_reset(&msg);
		err = cmh_demo_text_render(kind, m, len, INDENT, &msg);
		snprintf(num, sizeof(num), "%3zu) ", j + 1);
		if (!err && msg.len > strlen(INDENT) && strlen(num) == strlen(INDENT))
			memcpy(msg.data, num, strlen(num));
		if (!err)
			err = cmh_buf_addf(out, "\n%s", msg.data);
	}
	cmh_buf_release(&msg);
	return err;
}

static void print_intro(const struct demo *d)
{
	char events[128];

	notify_events_text(d->notify_events, events, sizeof(events));
	printf("cmhook demo: a simulated Adobe Cloud Manager on 127.0.0.1 delivered signed events to a\n"
	       "real `cmhook serve`, which journaled them, fetched an IMS token, read the Cloud Manager\n"
	       "API and posted to local stand-ins for your channels. Nothing left this machine.\n"
	       "\n"
	       "Program \"Acme Corp Main Site\": pipeline \"Production Full Stack\" deploys to stage,\n"
	       "waits for Go-Live approval and goes to production; then \"Dev Deploy\" fails in its\n"
	       "build step. NOTIFY_EVENTS=%s.\n", events);
}

static int print_report(struct demo *d)
{
	struct cmh_buf out;
	enum cmh_err err = CMH_OK;

	cmh_buf_init(&out, REPORT_MAX);
	for (size_t i = 0; i < cmh_demo_sinks_n(d->sinks) && !err; i++)
		err = report_channel(d, i, &out);
	if (!err) {
		print_intro(d);
		fwrite(out.data, 1, out.len, stdout);
	}
	cmh_buf_release(&out);
	return err ? 1 : 0;
}

static void print_next_steps(void)
{
	bool example = access(".env.example", R_OK) == 0;

	printf("\n"
	       "That was a simulation. To receive your own Cloud Manager events:\n"
	       "  1. In the Adobe Developer Console, add the Cloud Manager API with an OAuth\n"
	       "     Server-to-Server credential to a project.\n"
	       "  2. %s and fill in CLIENT_ID, CLIENT_SECRET,\n"
	       "     SCOPES and ORGANIZATION_ID from the credential page, plus SLACK_WEBHOOK,\n"
	       "     TEAMS_WEBHOOK and/or NOTIFY_WEBHOOK for your channels.\n"
	       "  3. `cmhook check` tests the credentials; `make run` then starts `cmhook serve`.\n"
	       "  4. Register https://<this host>/webhook for the Cloud Manager events in the\n"
	       "     Developer Console.\n",
	       example ? "cp .env.example .env" : "Create a file .env");
}

static void print_child_log(struct cmh_cli *cli, struct demo *d)
{
	struct cmh_buf tail;

	if (!d->child)
		return;
	cmh_buf_init(&tail, LOG_TAIL + 1);
	cmh_demo_child_log_tail(d->child, LOG_TAIL, &tail);
	if (tail.len)
		fprintf(stderr, "cmhook %s: the last lines of cmhook serve's log:\n%s", cli->command,
			tail.data);
	cmh_buf_release(&tail);
}

/* ---- the command --------------------------------------------------------- */

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int play(struct cmh_cli *cli, struct demo *d, uint16_t port)
{
	char webhook[64];
	struct cmh_demo_play p = {
		.world = d->world, .key = d->key, .sinks = d->sinks, .webhook_url = webhook,
		.api_url = cmh_demo_sim_api_url(d->sim), .notify_events = d->notify_events,
		.progress = true, .stop = &stop_requested,
	};
	struct cmh_buf err;
	int rc = 0;

	snprintf(webhook, sizeof(webhook), "http://127.0.0.1:%u/webhook", port);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	if (cmh_demo_play(&p, &err)) {
		cmh_cli_error(cli, "%s", err.data);
		rc = 1;
	}
	cmh_buf_release(&err);
	return rc;
}

static int run_demo(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum cmh_channel_kind kinds[CMH_NOTIFY_MAX_CHANNELS];
	struct demo d = { 0 };
	size_t n_kinds = 0;
	uint16_t port = 0;
	bool done;
	int rc, stop_rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_demo, argc, argv, ":h", longopts, NULL, NULL, &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	rc = cmh_cli_load_config(cli, 0);
	if (!rc)
		rc = pick_channels(cli, kinds, &n_kinds);
	if (rc)
		return rc;
	d.notify_events = setting_given(&cli->cfg, "NOTIFY_EVENTS") ? cli->cfg.notify_events
								   : CMH_KIND_BIT_ALL;
	catch_signals();
	fprintf(stderr, "demo: starting the simulation and cmhook serve...\n");
	rc = start_all(cli, &d, kinds, n_kinds, &port);
	if (!rc)
		rc = play(cli, &d, port);
	stop_rc = d.child ? cmh_demo_child_stop(d.child, CMH_DEMO_STOP_TIMEOUT_MS) : 0;
	if (!rc && stop_rc != 0) {
		cmh_cli_error(cli, "cmhook serve did not stop cleanly (exit %d)", stop_rc);
		rc = 1;
	}
	if (!rc)
		rc = print_report(&d);
	if (rc && !stop_requested)
		print_child_log(cli, &d);
	else if (!rc)
		print_next_steps();
	if (!rc && cmh_demo_sim_unauthorized(d.sim))
		fprintf(stderr, "demo: note: %u API requests came without valid credentials\n",
			cmh_demo_sim_unauthorized(d.sim));
	demo_release(&d);
	fflush(stdout);
	return rc;
}

const struct cmh_cli_command cmh_cmd_demo = {
	.name = "demo",
	.run = run_demo,
	.args = "",
	.summary = "show what your channels would receive, against a built-in simulation of Adobe",
	.help =
		"Needs no credentials and sends nothing off this machine. Starts a simulated IMS,\n"
		"Cloud Manager API and signing-key host on 127.0.0.1, runs the real `cmhook serve`\n"
		"against them (in a temporary directory that is removed afterwards), delivers two\n"
		"pipeline runs as signed Adobe I/O Events (one succeeds after a Go-Live approval,\n"
		"one fails) and prints, per channel, every message it received as text.\n"
		"\n"
		"Channels shown: the kinds configured in SLACK_WEBHOOK, TEAMS_WEBHOOK (with\n"
		"TEAMS_FORMAT) and NOTIFY_WEBHOOK, each pointed at a local stand-in instead of its\n"
		"URL; all of them when none is configured. Events: NOTIFY_EVENTS when set, else all.\n"
		"Exit 0 when every message arrived, 1 otherwise, 2 for a configuration error.\n",
};

/*
 * `cmhook serve`: builds the daemon's parts — journal, key cache, receiver,
 * HTTP server — runs them until SIGTERM/SIGINT and takes them down in an
 * order that answers every request already accepted: stop accepting, let
 * in-flight requests finish, drain the journal's queue, stop the server,
 * close the journal. The main thread only waits for signals.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef CMH_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "bounds.h"
#include "cli.h"
#include "enrich.h"
#include "fsutil.h"
#include "http_server.h"
#include "ims.h"
#include "journal.h"
#include "keycache.h"
#include "metrics.h"
#include "receiver.h"
#include "routes.h"
#include "worker.h"

#define SERVE_MAX_CONNECTIONS 512
#define SERVE_IDLE_TIMEOUT_S 15
#define SERVE_DRAIN_MS 5000
#define SERVE_MIN_BUFFERED ((size_t)64 * 1024 * 1024)
#define SERVE_MAINTENANCE_S 3600
#define SERVE_PRUNE_ROUNDS 100

struct daemon {
	struct cmh_journal *journal;
	struct cmh_keycache *keys;
	struct cmh_metrics *metrics;
	struct cmh_receiver *receiver;
	struct cmh_http_server *server;
	struct cmh_routes routes;
	struct cmh_ims *ims;
	struct cmh_enricher *enricher;
	struct cmh_workers *workers;
};

static void kick_workers(void *ud)
{
	struct daemon *d = ud;

	cmh_workers_kick(d->workers);
}

/* Enrichment and delivery; without a channel events are only journaled. */
static int start_workers(struct cmh_cli *cli, struct daemon *d, struct cmh_buf *err)
{
	struct cmh_worker_deps wd = { .cfg = &cli->cfg, .journal = d->journal,
				      .metrics = d->metrics };

	if (cmh_notify_channels(&cli->cfg, wd.channels, &wd.n_channels, err)) {
		cmh_cli_error(cli, "%s", err->data);
		return 2;
	}
	if (!wd.n_channels) {
		cmh_log(CMH_LOG_WARN, "serve", "no channel configured (SLACK_WEBHOOK, TEAMS_WEBHOOK, "
			"NOTIFY_WEBHOOK): events are journaled and wait until one is", "");
		return 0;
	}
	if (cmh_ims_new(&cli->cfg, NULL, NULL, &d->ims) ||
	    cmh_enricher_new(&cli->cfg, d->ims, NULL, NULL, &d->enricher))
		return 1;
	wd.enricher = d->enricher;
	if (cmh_workers_start(&wd, &d->workers))
		return 1;
	for (size_t i = 0; i < wd.n_channels; i++)
		cmh_log(CMH_LOG_INFO, "serve", "channel configured", "channel=%s format=%s",
			cmh_notify_channel_name(wd.channels[i].kind),
			cmh_notify_format_name(wd.channels[i].kind));
	return 0;
}

static void notify_systemd(const char *state)
{
#ifdef CMH_HAVE_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

static int open_journal(struct cmh_cli *cli, struct daemon *d, struct cmh_buf *err)
{
	struct cmh_buf path;
	size_t recovered = 0;
	int rc = 0;

	cmh_buf_init(&path, CMH_BUF_MAX_SMALL);
	if (cmh_fs_ensure_dir(cli->cfg.data_dir, err) ||
	    cmh_buf_addf(&path, "%s/journal.db", cli->cfg.data_dir) ||
	    cmh_journal_open(path.data, &d->journal, err)) {
		cmh_cli_error(cli, "journal: %s", err->len ? err->data : "cannot open");
		rc = 1;
		goto out;
	}
	if (cmh_journal_recover(d->journal, &recovered)) {
		cmh_cli_error(cli, "journal: crash recovery failed");
		rc = 1;
		goto out;
	}
	if (recovered)
		cmh_log(CMH_LOG_INFO, "serve", "events interrupted by a crash put back to pending",
			"count=%zu", recovered);
out:
	cmh_buf_release(&path);
	return rc;
}

static int build_daemon(struct cmh_cli *cli, struct daemon *d, struct cmh_buf *err)
{
	const struct cmh_config *cfg = &cli->cfg;
	struct cmh_keycache_opts kopts = { .base_url = cfg->events_key_url };
	struct cmh_receiver_deps deps;
	struct cmh_http_server_config scfg = {
		.address = cfg->listen_address,
		.port = cfg->port,
		.max_body = (size_t)cfg->max_body,
		/* Room for sixteen full-size bodies at once; an unauthenticated
		 * flood of large bodies is cut off there, not at the memory limit. */
		.max_buffered = (size_t)cfg->max_body * 16 > SERVE_MIN_BUFFERED ?
				(size_t)cfg->max_body * 16 : SERVE_MIN_BUFFERED,
		.max_connections = SERVE_MAX_CONNECTIONS,
		.idle_timeout_s = SERVE_IDLE_TIMEOUT_S,
		.handler = cmh_routes_handle,
		.handler_ud = &d->routes,
	};
	int rc;

	if (open_journal(cli, d, err))
		return 1;
	if (cfg->signature_verify && cmh_keycache_new(&kopts, &d->keys))
		return 1;
	if (!cfg->signature_verify)
		cmh_log(CMH_LOG_WARN, "serve", "SIGNATURE_VERIFY=off: anyone can post events; use "
			"this for local experiments only", "");
	if (cmh_metrics_new(&d->metrics))
		return 1;
	rc = start_workers(cli, d, err);
	if (rc)
		return rc;
	deps = (struct cmh_receiver_deps){ .cfg = cfg, .journal = d->journal, .keys = d->keys,
					   .metrics = d->metrics, .on_journaled = kick_workers,
					   .on_journaled_ud = d };
	if (cmh_receiver_new(&deps, &d->receiver))
		return 1;
	d->routes = (struct cmh_routes){ .cfg = cfg, .receiver = d->receiver,
					 .journal = d->journal, .keys = d->keys,
					 .metrics = d->metrics, .ims = d->ims,
					 .started_ms = cmh_clock_realtime_ms(NULL) };
	if (cmh_http_server_start(&scfg, &d->server, err)) {
		cmh_cli_error(cli, "%s", err->data);
		return 1;
	}
	return 0;
}

/*
 * The order matters: every accepted request must be answered before the
 * server stops (libmicrohttpd must not be stopped with a suspended
 * connection), and the receiver must outlive the journal's last commit
 * callback, which answers through it.
 */
static void take_down(struct daemon *d)
{
	if (d->server) {
		cmh_http_server_quiesce(d->server);
		__atomic_store_n(&d->routes.draining, 1, __ATOMIC_RELEASE);
		if (d->receiver)
			cmh_receiver_stop_accepting(d->receiver);
		if (!cmh_http_server_drain(d->server, SERVE_DRAIN_MS))
			cmh_log(CMH_LOG_INFO, "serve", "closing idle connections", "");
	}
	cmh_receiver_stop(d->receiver);      /* answers deliveries waiting for a key */
	cmh_journal_shutdown(d->journal);    /* commits and answers the rest */
	cmh_http_server_stop(d->server);
	cmh_receiver_free(d->receiver);
	/* Workers finish the event in hand; its state is in the journal. */
	cmh_workers_stop(d->workers);
	cmh_enricher_free(d->enricher);
	cmh_ims_free(d->ims);
	cmh_journal_close(d->journal);
	cmh_keycache_free(d->keys);
	cmh_metrics_free(d->metrics);
}

/* Block the signals we handle in every thread; the main thread sigwait()s. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Delete finished events past JOURNAL_RETENTION, a bounded batch at a time. */
static void prune_journal(const struct cmh_config *cfg, struct cmh_journal *j)
{
	int64_t cutoff = cmh_clock_realtime_ms(NULL) - (int64_t)cfg->journal_retention_ms;
	size_t n = 0, total = 0;

	for (int round = 0; round < SERVE_PRUNE_ROUNDS; round++) {
		if (cmh_journal_prune(j, cutoff, CMH_JOURNAL_PRUNE_MAX, &n)) {
			cmh_log(CMH_LOG_WARN, "serve", "journal retention failed, will try again", "");
			break;
		}
		total += n;
		if (n < CMH_JOURNAL_PRUNE_MAX)
			break;
	}
	if (total)
		cmh_log(CMH_LOG_INFO, "serve", "old finished events deleted", "count=%zu", total);
}

/* Would a restart come up? The new settings must load and be complete. */
static bool new_settings_usable(const struct cmh_cli *cli)
{
	struct cmh_config fresh = { 0 };
	struct cmh_buf err;
	enum cmh_err e;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	e = cmh_config_load(&fresh, cli->env_file, cli->data_dir, &err);
	if (!e)
		e = cmh_config_require(&fresh, CMH_NEED_TOKEN | CMH_NEED_API, &err);
	if (e)
		cmh_log(CMH_LOG_ERROR, "serve", "SIGHUP: new settings refused, going on with the "
			"old ones", "reason=%s", cmh_q(err.data));
	cmh_config_release(&fresh);
	cmh_buf_release(&err);
	return !e;
}

/*
 * The main thread: signals, and the journal's retention once an hour.
 * Returns SIGTERM/SIGINT to stop, SIGHUP to restart with new settings.
 */
static int wait_for_stop(const struct cmh_cli *cli, const struct cmh_config *cfg,
			 struct cmh_journal *j)
{
	struct timespec hour = { SERVE_MAINTENANCE_S, 0 };
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	prune_journal(cfg, j);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &hour);
		if (sig < 0) {
			if (errno == EAGAIN)
				prune_journal(cfg, j);
			continue;
		}
		if (sig != SIGHUP || new_settings_usable(cli))
			return sig;
	}
}

/*
 * SIGHUP: the daemon is taken down as for SIGTERM (every accepted delivery
 * answered, the journal closed) and the same command line is executed again
 * in this process, so the new .env, CLIENT_SECRET_FILE (a rotated secret)
 * and every other setting apply, the PID stays the same for systemd, and the
 * journal carries all pending work across. Returns only if exec failed.
 */
static int restart_self(struct cmh_cli *cli)
{
	sigset_t none;

	cmh_log(CMH_LOG_INFO, "serve", "restarting to apply new settings", "");
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	execv("/proc/self/exe", cli->argv);
	cmh_log(CMH_LOG_ERROR, "serve", "cannot restart", "error=%s", cmh_q(strerror(errno)));
	return 1;
}

static int run_serve(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { 0 };
	struct cmh_buf err;
	sigset_t set;
	bool done;
	int rc, sig = 0;

	rc = cmh_cli_getopt(cli, &cmh_cmd_serve, argc, argv, ":h", longopts, NULL, NULL, &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	rc = cmh_cli_load_config(cli, CMH_NEED_TOKEN | CMH_NEED_API);
	if (rc)
		return rc;
	block_signals(&set);
	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	rc = build_daemon(cli, &d, &err);
	if (rc)
		goto out;
	cmh_log(CMH_LOG_INFO, "serve", "listening", "address=%s port=%u path=%s version=%s",
		cmh_q(cli->cfg.listen_address), cmh_http_server_port(d.server),
		cmh_q(cli->cfg.webhook_path), CMH_VERSION);
	notify_systemd("READY=1");
	sig = wait_for_stop(cli, &cli->cfg, d.journal);
	notify_systemd(sig == SIGHUP ? "RELOADING=1" : "STOPPING=1");
	cmh_log(CMH_LOG_INFO, "serve", "stopping", "signal=%s",
		sig == SIGINT ? "INT" : sig == SIGHUP ? "HUP" : "TERM");
out:
	take_down(&d);
	cmh_buf_release(&err);
	if (!rc && sig == SIGHUP)
		return restart_self(cli);
	if (!rc)
		cmh_log(CMH_LOG_INFO, "serve", "stopped", "");
	return rc;
}

const struct cmh_cli_command cmh_cmd_serve = {
	.name = "serve",
	.run = run_serve,
	.args = "",
	.summary = "receive webhooks and notify the channels, in the foreground until SIGTERM",
	.help =
		"Listens on LISTEN_ADDRESS:PORT (PORT=0 picks a free port; the log line\n"
		"msg=listening says which). Endpoints: WEBHOOK_PATH (GET challenge, POST events),\n"
		"/healthz, /readyz, /metrics. Every authentic event is journaled durably in\n"
		"DATA_DIR/journal.db before it is acknowledged. Stops cleanly on SIGTERM or SIGINT.\n"
		"SIGHUP re-reads the settings (a rotated CLIENT_SECRET_FILE, a changed .env): if they\n"
		"are valid, serve stops as for SIGTERM and starts again in the same process.\n",
};

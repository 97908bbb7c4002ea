/*
 * Fixtures for the delivery tests (`cmhook serve` with workers): on top of
 * serve.h's world, a fake Cloud Manager API that serves one program, one
 * pipeline and any number of executions and step states (HAL JSON shaped as
 * in cloudmanager-api.md §11), fake notification channels ("sinks": Slack,
 * Teams, generic webhook) whose answers a test scripts and changes while
 * serve runs, event bodies per cloudmanager-events.md §3 whose object URLs
 * point at the fake API, and bounded waits on the journal's event states.
 *
 * Typical test:
 *     struct dfx *d = *state;
 *     dfx_add_execution(d, "2000001", "RUNNING");
 *     dfx_start(d);                              // serve with Slack configured
 *     char id[37];
 *     dfx_post_event(d, DFX_STARTED, "2000001", NULL, id);
 *     dfx_wait_status(d, id, "done", DFX_WAIT_MS);
 *     json_t *slack = dfx_sink_json(&d->slack, id, 0);
 *
 * A dfx belongs to one test thread; the sinks' handlers run on the fakes'
 * threads and read their behaviour atomically, so a test may change it at
 * any time.
 */
#ifndef CMH_TEST_DELIVERY_FX_H
#define CMH_TEST_DELIVERY_FX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "serve.h"

/* The program and pipeline every execution belongs to. */
#define DFX_PROGRAM       "22734"
#define DFX_PIPELINE      "48201733"
#define DFX_PROGRAM_NAME  "Acme Corp Main Site"
#define DFX_PIPELINE_NAME "Production Full Stack"
#define DFX_TENANT        "acmecorp"
#define DFX_PROGRAM_PATH  "/api/program/" DFX_PROGRAM
#define DFX_PIPELINE_PATH DFX_PROGRAM_PATH "/pipeline/" DFX_PIPELINE
/* The UI deep link of execution E is DFX_DEEP_LINK_PREFIX E. */
#define DFX_DEEP_LINK_PREFIX "https://experience.adobe.com/#/@" DFX_TENANT \
	"/cloud-manager/pipelineexecution.html/program/" DFX_PROGRAM "/pipeline/" DFX_PIPELINE \
	"/execution/"

/* Channel paths on the sink fakes (the secret part of real channel URLs). */
#define DFX_SLACK_PATH "/services/T000/B000/XXXX"
#define DFX_TEAMS_PATH "/workflows/4b1c6f3e/triggers/manual/paths/invoke"
#define DFX_TEAMS_QUERY "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CRETsig"
#define DFX_HOOK_PATH  "/hooks/cmhook"

/* Bound (ms) on waiting for a delivery outcome on a loaded 2-core machine. */
#define DFX_WAIT_MS 20000u

/* Most requests a sink remembers the answer of. */
#define DFX_SINK_MAX 1024

/*
 * A fake notification channel: one fake server with one POST route whose
 * handler answers by the fields below (read atomically on every request;
 * set them with dfx_sink_*()). Every answer's status is remembered by the
 * request's seq so a test can tell which attempts succeeded.
 */
struct dfx_sink {
	struct fake_server *f;
	const char *path;
	char *url;               /* fake_url(f) + path (+ "?" query): the channel setting */
	unsigned ok_status;      /* answer when not failing (set before use) */
	const char *ok_body;     /* static string */
	unsigned fail_status;    /* 0: never fail */
	int fail_left;           /* failures still to give: -1 forever */
	const char *fail_body;   /* static string */
	const char *fail_headers;/* static string or NULL */
	unsigned delay_ms;       /* delay of every answer */
	unsigned answered[DFX_SINK_MAX]; /* status given to request seq i, 0 before the answer */
};

struct dfx {
	struct sv *s;                 /* world (temp dir, env, IMS, API), key host, serve */
	struct dfx_sink slack, teams, hook;
};

/*
 * cmocka setup/teardown: *state = a new dfx. The API fake serves the program
 * and pipeline; the three sinks run and answer success (Slack 200 "ok",
 * Teams 202 "", webhook 200 "{}"). w->env holds serve.h's settings plus
 * SIGNATURE_VERIFY=off, NOTIFY_EVENTS=all, RETRY_INITIAL=200ms,
 * RETRY_MAX_DELAY=1s, LOG_LEVEL=debug, HTTP_TIMEOUT=10s and SLACK_WEBHOOK =
 * the Slack sink. Teams and the generic webhook are not configured.
 */
int dfx_setup(void **state);
int dfx_teardown(void **state);

/* Configure Teams (TEAMS_WEBHOOK + TEAMS_FORMAT=format) / the generic webhook / no Slack. */
void dfx_use_teams(struct dfx *d, const char *format);
void dfx_use_hook(struct dfx *d);
void dfx_no_slack(struct dfx *d);

/* The sink's successful answer (status + body). Set before serve sends. */
void dfx_sink_ok(struct dfx_sink *k, unsigned status, const char *body);
/*
 * Fail the next n requests (n < 0: until changed) with status and body
 * (headers: "Name: value" lines or NULL). n == 0 stops failing.
 */
void dfx_sink_fail(struct dfx_sink *k, int n, unsigned status, const char *body,
		   const char *headers);
void dfx_sink_delay(struct dfx_sink *k, unsigned ms);

/* Requests the sink received so far. */
size_t dfx_sink_count(struct dfx_sink *k);
/* Requests whose body contains needle (e.g. an event id or "execution/E"). */
size_t dfx_sink_count_with(struct dfx_sink *k, const char *needle);
/*
 * The nth (from 0) request whose body contains needle, parsed as JSON (new
 * reference), or NULL when there is none. Fails the test if it is not JSON.
 */
json_t *dfx_sink_json(struct dfx_sink *k, const char *needle, size_t nth);
/* The recorded request behind dfx_sink_json(k, needle, nth), or NULL. */
const struct fake_request *dfx_sink_request(struct dfx_sink *k, const char *needle, size_t nth);
/* The status the sink gave request req (0: not answered yet). */
unsigned dfx_sink_answer(struct dfx_sink *k, const struct fake_request *req);

/* ---- the fake Cloud Manager API ------------------------------------------- */

/* "/api/program/P/pipeline/Q/execution/E" as a new string. */
char *dfx_execution_path(const char *exec_id);
/* ".../execution/E/phase/PH/step/ST" as a new string. */
char *dfx_step_path(const char *exec_id, const char *phase, const char *step);

/*
 * An execution resource (§11.4 shape) with status RUNNING, FINISHED, FAILED
 * or CANCELLED, created 2025-06-12T09:15:08.412Z; terminal ones have
 * finishedAt = created + dfx_duration_ms(status). A FAILED execution's build
 * step is FAILED. Returns new JSON text (free() it).
 */
char *dfx_execution_json(const char *exec_id, const char *status);
/* Duration of a terminal execution made by dfx_execution_json (ms). */
long long dfx_duration_ms(const char *status);
/* Append an answer 200 with dfx_execution_json(exec_id, status) to the execution's route. */
void dfx_add_execution(struct dfx *d, const char *exec_id, const char *status);
/* Append an answer (status code, body) to the execution's route. */
void dfx_add_execution_answer(struct dfx *d, const char *exec_id, unsigned code,
			      const char *body);

/*
 * A step state (§11.5 shape) of execution exec_id, phase/step ids, with
 * action ("approval", "deploy", ...), status ("WAITING", "FINISHED", ...)
 * and environment type (NULL: none), served 200 on its route.
 */
void dfx_add_step(struct dfx *d, const char *exec_id, const char *phase, const char *step,
		  const char *action, const char *status, const char *env_type);

/* ---- events -------------------------------------------------------------- */

enum dfx_kind { DFX_STARTED, DFX_STEP_STARTED, DFX_WAITING, DFX_STEP_ENDED, DFX_ENDED };

/* The `kind` name `events --json` shows for k. */
const char *dfx_kind_name(enum dfx_kind k);

/*
 * An event body (one object) of kind k with a fresh event id (copied to
 * ret_id when not NULL) and the given object URL. free() it.
 */
char *dfx_event_url(enum dfx_kind k, const char *object_url, char ret_id[37]);
/* Same, object URL = the fake API + the execution's path, or the step's when phase/step set. */
char *dfx_event(struct dfx *d, enum dfx_kind k, const char *exec_id, const char *phase,
		const char *step, char ret_id[37]);

/* POST body to serve (signed as Adobe does; ignored when SIGNATURE_VERIFY=off); expect 200. */
void dfx_post(struct dfx *d, const char *body);
/* dfx_event + dfx_post. */
void dfx_post_event(struct dfx *d, enum dfx_kind k, const char *exec_id, const char *phase,
		    const char *step, char ret_id[37]);

/* Start serve with w->env (serve.h's sv_start). */
void dfx_start(struct dfx *d);
/*
 * Stop serve with SIGTERM; fail unless it exits 0 within SV_STOP_TIMEOUT_MS
 * and its log holds no sanitizer report (leaks are reported at this exit).
 */
void dfx_stop(struct dfx *d);

/* ---- the journal ----------------------------------------------------------- */

/*
 * Poll `cmhook events --json` (every 50 ms, bounded by timeout_ms) until every
 * one of the n events has status `status`; returns the last listing (new
 * reference). Fails the test, dumping serve's log and the rows, otherwise.
 */
json_t *dfx_wait_statuses(struct dfx *d, char (*ids)[37], size_t n, const char *status,
			  unsigned timeout_ms);
/* One event; returns its row as a new reference. */
json_t *dfx_wait_status(struct dfx *d, const char *id, const char *status, unsigned timeout_ms);

/*
 * Fail (printing the payload) unless the compact, unescaped text of j
 * contains needle: case-sensitively, or case-insensitively for the _ci form.
 */
void dfx_expect_has(json_t *j, const char *needle, const char *what);
void dfx_expect_has_ci(json_t *j, const char *needle, const char *what);
/* Fail (printing the payload) when j's text contains needle. */
void dfx_expect_lacks(json_t *j, const char *needle, const char *what);
/* The string at a path of object keys ("a", "b", NULL), or NULL. */
const char *dfx_json_str(json_t *j, ...) __attribute__((sentinel));

/* A string field of a row ("" when absent or null). */
const char *dfx_row_str(json_t *row, const char *key);

/* Monotonic milliseconds. */
long dfx_now_ms(void);

#endif

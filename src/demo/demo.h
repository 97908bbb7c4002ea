/*
 * `cmhook demo`: a simulation of Adobe on 127.0.0.1 that the real daemon
 * (`cmhook serve`, run as a child process) is pointed at, so a newcomer can
 * watch a whole pipeline run turn into Slack/Teams/webhook messages without
 * credentials and without anything leaving the machine. cmhook's own code
 * paths (signature checks, journal, token cache, enrichment, rendering,
 * delivery) run unchanged in the child; everything in this directory only
 * plays Adobe's part and shows what the channels received.
 *
 * One header for the directory, a banner per file, as a table of contents.
 * Thread-safety is stated per module below.
 */
#ifndef CMH_DEMO_H
#define CMH_DEMO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "event.h"
#include "notify.h"

/* The simulated credential and organisation given to the child. */
#define CMH_DEMO_CLIENT_ID "cmhook-demo-client"
#define CMH_DEMO_ORG       "1234567890ABCDEF12345678@AdobeOrg"
#define CMH_DEMO_SCOPES \
	"openid,AdobeID,read_organizations,additional_info.projectedProductContext," \
	"read_pc.dma_aem_ams"

/* Bounds: everything the demo waits for is bounded (STYLE). */
#define CMH_DEMO_START_TIMEOUT_MS   30000   /* serve listening (sanitizer builds are slow) */
#define CMH_DEMO_MESSAGE_TIMEOUT_MS 30000   /* one event's messages at every sink */
#define CMH_DEMO_STOP_TIMEOUT_MS    15000   /* serve exiting after SIGTERM */
#define CMH_DEMO_MAX_MESSAGES       64      /* per sink; the script sends 16 events */
#define CMH_DEMO_MAX_SINK_BODY      (64 * 1024)
#define CMH_DEMO_LOG_KEEP           (64 * 1024)  /* tail of the child's stderr kept */

/* Set by the signal handler of `cmhook demo`; every wait gives up when it is. */
typedef volatile sig_atomic_t cmh_demo_stop_flag;

/* ---- world.c: the fictional program, pipelines and runs ------------------
 * Program 22734 "Acme Corp Main Site"; run 0 of "Production Full Stack"
 * (succeeds after a Go-Live approval), run 1 of "Dev Deploy" (its build
 * fails). Each run has a virtual clock that the player moves forward event by
 * event; the API answers computed from it are what Cloud Manager would show
 * at that moment (statuses, timestamps, the advance link of a waiting step).
 * The world's functions may be called from any thread (one mutex). */

struct cmh_demo_world;

struct cmh_demo_beat {
	unsigned run;               /* 0 or 1 */
	enum cmh_event_kind kind;
	int step;                   /* index of the run's step, -1: the execution */
	int at_s;                   /* seconds after the run was created */
	const char *caption;        /* for progress lines: "build ended (FAILED)" */
};

/* The script, in the order Adobe would deliver it. Static. */
const struct cmh_demo_beat *cmh_demo_beats(size_t *ret_n);

/* A world whose runs happened during the last hour or so before now_ms. */
CMH_MUST_CHECK enum cmh_err cmh_demo_world_new(int64_t now_ms, struct cmh_demo_world **ret);
void cmh_demo_world_free(struct cmh_demo_world *w);

/* Move the clock of beat's run to the beat's moment. */
void cmh_demo_world_advance(struct cmh_demo_world *w, const struct cmh_demo_beat *beat);

/*
 * The API resource at path (program, pipeline, execution, step state, or the
 * program list), as Cloud Manager would answer now: *ret_body is malloc'd
 * JSON. CMH_ERR_NOT_FOUND for any other path.
 */
CMH_MUST_CHECK enum cmh_err cmh_demo_world_get(struct cmh_demo_world *w, const char *path,
	char **ret_body, size_t *ret_len);

/*
 * The I/O Events body for beat (reference/cloudmanager-events.md §3): the
 * object URL on api_base, the given ids and recipient, published at the
 * beat's moment. Replaces out's content.
 */
CMH_MUST_CHECK enum cmh_err cmh_demo_world_event(struct cmh_demo_world *w,
	const struct cmh_demo_beat *beat, const char *api_base, const char *event_id,
	const char *urn_uuid, struct cmh_buf *out);

/* "Production Full Stack" / "Dev Deploy" (static), for progress lines. */
const char *cmh_demo_run_name(unsigned run);

/* ---- keys.c: the signing key pair (OpenSSL) ------------------------------
 * One fresh RSA-2048 key pair; its public PEM is served at two key paths,
 * one per signature header. Immutable after creation: any thread. */

struct cmh_demo_key;

CMH_MUST_CHECK enum cmh_err cmh_demo_key_new(struct cmh_demo_key **ret, struct cmh_buf *errmsg);
void cmh_demo_key_free(struct cmh_demo_key *k);
const char *cmh_demo_key_pem(const struct cmh_demo_key *k);
/* "/prod/keys/pub-key-<uuid>.pem", i = 0 or 1. */
const char *cmh_demo_key_path(const struct cmh_demo_key *k, unsigned i);
/* base64(RSA-SHA256 PKCS#1 v1.5 over body) into out (replaced). */
CMH_MUST_CHECK enum cmh_err cmh_demo_key_sign(const struct cmh_demo_key *k, const char *body,
	size_t len, struct cmh_buf *out);
/* A random version-4 UUID, lowercase. */
void cmh_demo_uuid(char out[37]);
struct timespec;
/* *ts = now + ms on CLOCK_REALTIME, for pthread_cond_timedwait(). */
void cmh_demo_deadline_in(struct timespec *ts, unsigned ms);

/* ---- sim.c: simulated IMS, Cloud Manager API and key host ----------------
 * Three HTTP servers on 127.0.0.1 ephemeral ports. IMS issues one token for
 * the demo client; the API answers from the world only to requests carrying
 * that token, the client id and the org (401 otherwise), so the demo
 * exercises the real token path. */

struct cmh_demo_sim;

/* world and key must outlive the sim. */
CMH_MUST_CHECK enum cmh_err cmh_demo_sim_start(struct cmh_demo_world *world,
	const struct cmh_demo_key *key, struct cmh_demo_sim **ret, struct cmh_buf *errmsg);
/* Stops the servers; NULL is fine. */
void cmh_demo_sim_stop(struct cmh_demo_sim *s);
/* Base URLs, "http://127.0.0.1:PORT" (owned by s). */
const char *cmh_demo_sim_ims_url(const struct cmh_demo_sim *s);
const char *cmh_demo_sim_api_url(const struct cmh_demo_sim *s);
const char *cmh_demo_sim_keys_url(const struct cmh_demo_sim *s);
/* Requests that reached the API without valid credentials (should stay 0). */
unsigned cmh_demo_sim_unauthorized(struct cmh_demo_sim *s);

/* ---- sink.c: the channels' stand-ins --------------------------------------
 * One HTTP server with a path per channel; each answers as the real service
 * does on success (Slack 200 "ok", MessageCard 200 "1", Workflows 202,
 * webhook 200) and records the bodies in arrival order. Any thread. */

struct cmh_demo_sinks;

CMH_MUST_CHECK enum cmh_err cmh_demo_sinks_start(const enum cmh_channel_kind *kinds, size_t n,
	struct cmh_demo_sinks **ret, struct cmh_buf *errmsg);
void cmh_demo_sinks_stop(struct cmh_demo_sinks *s);
size_t cmh_demo_sinks_n(const struct cmh_demo_sinks *s);
enum cmh_channel_kind cmh_demo_sinks_kind(const struct cmh_demo_sinks *s, size_t i);
/* The URL the daemon is given for channel i (owned by s). */
const char *cmh_demo_sinks_url(const struct cmh_demo_sinks *s, size_t i);
size_t cmh_demo_sinks_count(struct cmh_demo_sinks *s, size_t i);
/*
 * Wait until every channel has received at least `want` messages. True when
 * they have; false after timeout_ms or once *stop is set.
 */
bool cmh_demo_sinks_wait(struct cmh_demo_sinks *s, size_t want, unsigned timeout_ms,
	const cmh_demo_stop_flag *stop);
/* Message j of channel i (borrowed; valid until cmh_demo_sinks_stop()), NULL past the end. */
const char *cmh_demo_sinks_message(struct cmh_demo_sinks *s, size_t i, size_t j,
	size_t *ret_len);

/* ---- text.c: payloads as terminal text -------------------------------------
 * Pure. Slack Block Kit (header, section text/fields, context), Teams
 * Adaptive Card (TextBlock, FactSet, Action.OpenUrl), MessageCard (title,
 * sections, facts, OpenUri) and the generic webhook object, each turned into
 * a few indented lines. A payload that is not what we expect is shown as it
 * is, truncated. */

/* "Slack", "Microsoft Teams (Workflows, Adaptive Card)", ... (static). */
const char *cmh_demo_channel_title(enum cmh_channel_kind kind);
/* Append the lines for one payload to out, each starting with indent. */
CMH_MUST_CHECK enum cmh_err cmh_demo_text_render(enum cmh_channel_kind kind, const char *body,
	size_t len, const char *indent, struct cmh_buf *out);

/* ---- child.c: the daemon under demonstration -------------------------------
 * `cmhook serve` run from /proc/self/exe with an explicit environment in a
 * directory of our choice, stderr read by a thread (the port is learnt from
 * the `msg=listening` line; the tail is kept for error reports). The child
 * gets SIGTERM if we die. Owned by one thread. */

struct cmh_demo_child;

/* env: NULL-terminated "KEY=VALUE" strings, copied by exec. */
CMH_MUST_CHECK enum cmh_err cmh_demo_child_start(const char *const *env, const char *cwd,
	struct cmh_demo_child **ret, struct cmh_buf *errmsg);
/* Wait for the listening line: CMH_OK with *ret_port, CMH_ERR_TIMEOUT, or
 * CMH_ERR_UNAVAILABLE when serve exited first or *stop was set. */
CMH_MUST_CHECK enum cmh_err cmh_demo_child_wait_port(struct cmh_demo_child *c, unsigned timeout_ms,
	const cmh_demo_stop_flag *stop, uint16_t *ret_port);
/*
 * SIGTERM, wait up to timeout_ms (then SIGKILL) and reap. Returns the exit
 * code, or -1 when it had to be killed or died of a signal. Idempotent.
 */
int cmh_demo_child_stop(struct cmh_demo_child *c, unsigned timeout_ms);
/* The last max_bytes of the child's stderr into out (replaced), whole lines. */
void cmh_demo_child_log_tail(struct cmh_demo_child *c, size_t max_bytes, struct cmh_buf *out);
/* Stops the child if still running (SIGKILL), reaps, frees. NULL is fine. */
void cmh_demo_child_free(struct cmh_demo_child *c);

/* ---- player.c: Adobe's deliveries ------------------------------------------ */

struct cmh_demo_play {
	struct cmh_demo_world *world;
	const struct cmh_demo_key *key;
	struct cmh_demo_sinks *sinks;
	const char *webhook_url;    /* the child's http://127.0.0.1:PORT/webhook */
	const char *api_url;        /* the sim API base, for object URLs */
	unsigned notify_events;     /* the child's NOTIFY_EVENTS bits */
	bool progress;              /* a line per event on stderr */
	const cmh_demo_stop_flag *stop;
};

/*
 * Play every beat: move the world's clock, sign and POST the event like
 * Adobe (expects 200), and when the kind is one the child notifies, wait
 * until every sink has its message before going on, so that the API state
 * the daemon reads is the state of that moment. errmsg says which event
 * failed and why.
 */
CMH_MUST_CHECK enum cmh_err cmh_demo_play(const struct cmh_demo_play *p, struct cmh_buf *errmsg);

#endif

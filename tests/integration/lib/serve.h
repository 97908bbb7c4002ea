/*
 * Fixtures for testing `cmhook serve`: a world (fixtures.h) plus a fake key
 * host standing in for static.adobeioevents.com, two signing keys served
 * there, the running serve process with its port, and helpers to post
 * signed deliveries, list the journal with `cmhook events --json`, and read
 * /metrics.
 *
 * The key host answers GET <key path> for both keys through a handler whose
 * behaviour the test changes at any time: key_status (0: serve the PEM,
 * otherwise answer that status) and key_delay_ms (delay every answer).
 *
 * Typical test:
 *     struct sv *s = *state;
 *     sv_start(s);
 *     char *body = sv_event("cm-3.1-started.json", NULL, NULL);
 *     sv_post(s, body, strlen(body), NULL, &reply);   // both signatures valid
 *     assert_int_equal(reply.status, 200);
 *     json_t *rows = sv_events(s, NULL);
 *
 * An sv belongs to one test thread, except sv_post()/sv_post_parallel(),
 * which may run on several threads at once.
 */
#ifndef CMH_TEST_SERVE_H
#define CMH_TEST_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client.h"
#include "fixtures.h"
#include "sign.h"

/* Bounds (ms) for a loaded 2-core machine, sanitizers included. */
#define SV_START_TIMEOUT_MS 20000u
#define SV_STOP_TIMEOUT_MS  10000u

struct sv {
	struct fx_world *w;             /* temp dir, env, fake IMS and API with default routes */
	struct fake_server *keyhost;    /* EVENTS_KEY_URL */
	const struct sign_key *k1, *k2; /* x-adobe-digital-signature-1 / -2 keys */
	int key_status;                 /* accessed atomically: 0 = serve the PEM */
	unsigned key_delay_ms;          /* accessed atomically */
	struct run_bg *bg;              /* the current serve process, NULL before sv_start */
	unsigned starts;                /* serve processes started so far */
	uint16_t port;
	char base[64];                  /* "http://127.0.0.1:PORT" */
	char webhook[96];               /* base + "/webhook" */
};

/*
 * cmocka setup/teardown: *state = a new sv. w->env additionally holds
 * PORT=0, LISTEN_ADDRESS=127.0.0.1 and EVENTS_KEY_URL=<key host>; serve is
 * not started yet, then the settings of CMH_TEST_SERVE_ENV when set
 * ("KEY=VALUE;KEY=VALUE": debugging, and checking that the tests fail
 * against a weakened server). Teardown SIGKILLs a serve still running.
 */
int sv_setup(void **state);
int sv_teardown(void **state);

/*
 * Start serve with w->env (or env) and wait for its `msg=listening` line;
 * fills port/base/webhook. Fails the test (dumping stderr) when serve exits
 * or does not listen within SV_START_TIMEOUT_MS. A previous serve must have
 * exited (sv_stop/sv_kill).
 */
void sv_start(struct sv *s);
void sv_start_env(struct sv *s, const struct run_env *env);

/* Send sig and wait for the exit; fails the test unless it exits within timeout_ms. */
int sv_stop(struct sv *s, int sig, unsigned timeout_ms);
/* SIGKILL and reap. */
void sv_kill(struct sv *s);

/* serve's stderr so far (free() it). */
char *sv_log(struct sv *s);
/* Wait until serve's stderr contains needle; fails the test (dumping stderr) otherwise. */
void sv_expect_log(struct sv *s, const char *needle, unsigned timeout_ms);
/* Current size of serve's stderr (an offset for sv_expect_log_since). */
size_t sv_log_size(struct sv *s);
/*
 * Wait until serve's stderr, from byte offset on, contains needle
 * (case-insensitive); fails the test (dumping stderr) otherwise.
 */
void sv_expect_log_since(struct sv *s, size_t offset, const char *needle, unsigned timeout_ms);
/* Print serve's stderr to our stderr (for failing tests). */
void sv_dump_log(struct sv *s, const char *what);

/* How to sign a delivery; a zeroed struct (or NULL) means "as Adobe does". */
struct sv_post_opts {
	bool unsigned_body;             /* send none of the four signature headers */
	const char *sig1, *sig2;        /* NULL: a valid signature; "": header omitted; else verbatim */
	const char *path1, *path2;      /* NULL: the key's path; "": header omitted; else verbatim */
	const char *signed_body;        /* sign these bytes instead of the body (tampering) */
	size_t signed_len;
	const char *const *headers;     /* extra "Name: value" headers, NULL-terminated */
	bool chunked;                   /* Transfer-Encoding: chunked */
};

/*
 * POST body to s->webhook with Content-Type application/json and the
 * signature headers per opts. The reply is in *ret (release it). Safe on
 * several threads at once.
 */
void sv_post(struct sv *s, const char *body, size_t len, const struct sv_post_opts *opts,
	     struct http_reply *ret);
/* sv_post with default opts; returns the status (0: no HTTP answer). */
long sv_post_status(struct sv *s, const char *body, size_t len);

/* One delivery of a parallel burst. */
struct sv_job {
	const char *body;
	size_t len;
	long status;                    /* out: the answer's status, 0 when there was none */
};

/* Post all jobs (correctly signed) with nthreads threads; each job's status is filled in. */
void sv_post_parallel(struct sv *s, struct sv_job *jobs, size_t n, unsigned nthreads);

/* GET base + path (e.g. "/metrics") into *ret. */
void sv_get(struct sv *s, const char *path, const char *const *headers, struct http_reply *ret);

/* Bytes of tests/data/events/<name> (free() it); fails the test when missing. */
char *sv_data(const char *name, size_t *ret_len);

/*
 * A single-event body from tests/data/events/<name>, re-serialised compactly,
 * with event_id (and eventid, when present) set to event_id unless NULL, and
 * the recipient fields (recipient_client_id, recipientclientid when present)
 * set to recipient, or removed when recipient is "", or kept when NULL.
 * free() it.
 */
char *sv_event(const char *name, const char *event_id, const char *recipient);

/*
 * Run `cmhook events --json --limit 1000` plus extra arguments (NULL-
 * terminated; none: NULL) with w->env; fails unless it exits 0 with one JSON
 * object per line. Returns a new array of the objects (json_decref it).
 */
json_t *sv_events(struct sv *s, ...) __attribute__((sentinel));
/* The row with this event_id in rows, or NULL (borrowed). */
json_t *sv_event_find(json_t *rows, const char *event_id);
/* Number of rows with this event_id. */
size_t sv_event_count(json_t *rows, const char *event_id);

/*
 * The value of the Prometheus sample `series` (name with labels exactly as
 * rendered, e.g. cmhook_rejected_total{reason="signature"}) in text, or -1
 * when there is no such line.
 */
double sv_metric(const char *text, const char *series);

#endif

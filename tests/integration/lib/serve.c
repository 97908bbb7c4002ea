/*
 * The `serve` fixtures of serve.h: the fake key host and its switchable
 * handler, starting and stopping the serve process and learning its port
 * from the `msg=listening` log line, signed posting (also from many threads),
 * event bodies from tests/data/events, the journal as seen by
 * `cmhook events --json`, and Prometheus sample lookup.
 */
#include "serve.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testdata.h"

/* ---- key host --------------------------------------------------------------- */

static void key_handler(const struct fake_request *req, struct fake_response *resp, void *ud)
{
	struct sv *s = ud;
	int status = __atomic_load_n(&s->key_status, __ATOMIC_SEQ_CST);

	resp->delay_ms = __atomic_load_n(&s->key_delay_ms, __ATOMIC_SEQ_CST);
	if (status) {
		resp->status = (unsigned)status;
		resp->headers = "Content-Type: text/plain";
		resp->body = "key host unavailable";
		return;
	}
	resp->status = 200;
	resp->headers = "Content-Type: application/x-pem-file";
	resp->body = strcmp(req->path, sign_key_path(s->k1)) == 0 ? sign_key_pem(s->k1)
								     : sign_key_pem(s->k2);
}

/*
 * CMH_TEST_SERVE_ENV="KEY=VALUE;KEY=VALUE" adds settings to every serve
 * world after the defaults: for debugging, and for checking that the tests
 * fail against a deliberately weakened server (e.g. SIGNATURE_VERIFY=off).
 */
static void apply_extra_env(struct run_env *env)
{
	const char *p = getenv("CMH_TEST_SERVE_ENV");

	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *item = strndup(p, len);
		char *eq = item ? strchr(item, '=') : NULL;

		if (!item)
			abort();
		if (eq) {
			*eq = '\0';
			run_env_set(env, item, eq + 1);
		}
		free(item);
		p += len + (end ? 1 : 0);
	}
}

int sv_setup(void **state)
{
	struct sv *s = tmp_xmalloc(sizeof(*s));
	struct fake_response r;

	memset(s, 0, sizeof(*s));
	*state = s;
	s->w = fx_world_new();
	s->keyhost = fake_start();
	if (!s->w || !s->keyhost) {
		(void)sv_teardown(state);
		return -1;
	}
	s->k1 = sign_key_shared(0);
	s->k2 = sign_key_shared(1);
	memset(&r, 0, sizeof(r));
	r.handler = key_handler;
	r.ud = s;
	fake_push(s->keyhost, "GET", sign_key_path(s->k1), &r);
	fake_push(s->keyhost, "GET", sign_key_path(s->k2), &r);
	fx_routes(s->w);
	run_env_set(&s->w->env, "PORT", "0");
	run_env_set(&s->w->env, "LISTEN_ADDRESS", "127.0.0.1");
	run_env_set(&s->w->env, "EVENTS_KEY_URL", fake_url(s->keyhost));
	apply_extra_env(&s->w->env);
	return 0;
}

int sv_teardown(void **state)
{
	struct sv *s = *state;

	if (!s)
		return 0;
	if (s->bg && getenv("CMH_TEST_VERBOSE"))
		sv_dump_log(s, "teardown");
	run_bg_free(s->bg);
	/* The fakes stop after serve is gone, so nothing is left waiting on them. */
	fake_stop(s->keyhost);
	fx_world_free(s->w);
	free(s);
	*state = NULL;
	return 0;
}

/* ---- the serve process ------------------------------------------------------ */

char *sv_log(struct sv *s)
{
	return s->bg ? run_bg_stderr(s->bg) : tmp_xstrdup("");
}

void sv_dump_log(struct sv *s, const char *what)
{
	char *log = sv_log(s);

	fprintf(stderr, "---- serve #%u stderr (%s) ----\n%s---- end ----\n", s->starts, what, log);
	free(log);
}

void sv_expect_log(struct sv *s, const char *needle, unsigned timeout_ms)
{
	if (s->bg && run_bg_wait_stderr(s->bg, needle, timeout_ms))
		return;
	sv_dump_log(s, "missing log text");
	fail_msg("serve did not log \"%s\" within %u ms", needle, timeout_ms);
}

size_t sv_log_size(struct sv *s)
{
	char *log = sv_log(s);
	size_t n = strlen(log);

	free(log);
	return n;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void sv_expect_log_since(struct sv *s, size_t offset, const char *needle, unsigned timeout_ms)
{
	long deadline = mono_ms() + (long)timeout_ms;

	for (;;) {
		/* Exit first, then read: what it wrote just before exiting is seen. */
		bool gone = !s->bg || run_bg_wait(s->bg, 0, NULL);
		size_t len = 0;
		char *log = s->bg ? tmp_read(run_bg_err_path(s->bg), &len) : NULL;
		bool found = log && len > offset && fx_contains_ci(log + offset, len - offset, needle);

		free(log);
		if (found)
			return;
		if (gone || mono_ms() >= deadline)
			break;
		/* serve's log file grows with nothing to wait on: poll, as run_bg_wait_stderr does. */
		(void)poll(NULL, 0, 20);
	}
	sv_dump_log(s, "missing log text");
	fail_msg("serve did not log \"%s\" (after byte %zu) within %u ms", needle, offset, timeout_ms);
}

/* The port from the line holding "msg=listening": its " port=N" field. 0 when absent. */
static uint16_t parse_listening_port(const char *log)
{
	const char *line = strstr(log, "msg=listening");
	const char *eol, *p;
	unsigned long v;
	char *end;

	if (!line)
		return 0;
	while (line > log && line[-1] != '\n')
		line--;
	eol = strchr(line, '\n');
	for (p = line; (p = strstr(p, " port=")) != NULL && (!eol || p < eol); p++) {
		v = strtoul(p + 6, &end, 10);
		if (end != p + 6 && v > 0 && v < 65536 && (*end == ' ' || *end == '\n' || !*end))
			return (uint16_t)v;
	}
	return 0;
}

void sv_start_env(struct sv *s, const struct run_env *env)
{
	const char *args[] = { "serve", NULL };
	char name[32];
	char *log;

	if (s->bg && !run_bg_wait(s->bg, 0, NULL))
		fail_msg("sv_start: the previous serve is still running");
	run_bg_free(s->bg);
	s->starts++;
	(void)snprintf(name, sizeof(name), "serve-%u", s->starts);
	s->bg = run_bg_start(s->w->dir, name, env, args);
	if (!s->bg)
		fail_msg("cannot start %s serve", CMH_BINARY);
	if (!run_bg_wait_stderr(s->bg, "msg=listening", SV_START_TIMEOUT_MS)) {
		sv_dump_log(s, "no listening line");
		fail_msg("serve did not log msg=listening within %u ms", SV_START_TIMEOUT_MS);
	}
	/* The line may still be partial right after the needle appeared: wait for its end. */
	for (unsigned i = 0;; i++) {
		log = sv_log(s);
		s->port = parse_listening_port(log);
		free(log);
		if (s->port || i >= 50)
			break;
		(void)run_bg_wait(s->bg, 20, NULL);
	}
	if (!s->port) {
		sv_dump_log(s, "no port");
		fail_msg("the msg=listening line carries no port=N field");
	}
	(void)snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", s->port);
	(void)snprintf(s->webhook, sizeof(s->webhook), "%s/webhook", s->base);
}

void sv_start(struct sv *s)
{
	sv_start_env(s, &s->w->env);
}

int sv_stop(struct sv *s, int sig, unsigned timeout_ms)
{
	int code = -1;

	if (!s->bg)
		fail_msg("sv_stop: serve is not running");
	(void)run_bg_signal(s->bg, sig);
	if (!run_bg_wait(s->bg, timeout_ms, &code)) {
		sv_dump_log(s, "did not exit");
		fail_msg("serve did not exit within %u ms of signal %d", timeout_ms, sig);
	}
	return code;
}

void sv_kill(struct sv *s)
{
	(void)sv_stop(s, SIGKILL, SV_STOP_TIMEOUT_MS);
}

/* ---- posting ---------------------------------------------------------------- */

/* One signature header: absent (""), verbatim, or computed over the signed bytes. */
static char *sig_header(const char *name, const char *given, const struct sign_key *k,
			const char *sbody, size_t slen)
{
	char *sig, *h;

	if (given && !*given)
		return NULL;
	if (given)
		return tmp_xasprintf("%s: %s", name, given);
	sig = sign_body(k, sbody, slen);
	h = tmp_xasprintf("%s: %s", name, sig);
	free(sig);
	return h;
}

static char *path_header(const char *name, const char *given, const struct sign_key *k)
{
	if (given && !*given)
		return NULL;
	return tmp_xasprintf("%s: %s", name, given ? given : sign_key_path(k));
}

void sv_post(struct sv *s, const char *body, size_t len, const struct sv_post_opts *opts,
	     struct http_reply *ret)
{
	static const struct sv_post_opts defaults;
	const struct sv_post_opts *o = opts ? opts : &defaults;
	const char *sbody = o->signed_body ? o->signed_body : body;
	size_t slen = o->signed_body ? o->signed_len : len;
	char *own[4] = { NULL, NULL, NULL, NULL };
	const char *hdrs[24];
	struct http_req req = { .method = "POST", .url = s->webhook, .body = body,
				.body_len = len, .chunked = o->chunked, .headers = hdrs };
	size_t n = 0;

	hdrs[n++] = "Content-Type: application/json; charset=utf-8";
	hdrs[n++] = "User-Agent: Adobe/1.0";
	if (!o->unsigned_body) {
		own[0] = sig_header("x-adobe-digital-signature-1", o->sig1, s->k1, sbody, slen);
		own[1] = sig_header("x-adobe-digital-signature-2", o->sig2, s->k2, sbody, slen);
		own[2] = path_header("x-adobe-public-key1-path", o->path1, s->k1);
		own[3] = path_header("x-adobe-public-key2-path", o->path2, s->k2);
		for (size_t i = 0; i < 4; i++)
			if (own[i])
				hdrs[n++] = own[i];
	}
	for (size_t i = 0; o->headers && o->headers[i] && n < 23; i++)
		hdrs[n++] = o->headers[i];
	hdrs[n] = NULL;
	(void)http_do(&req, ret);
	for (size_t i = 0; i < 4; i++)
		free(own[i]);
}

long sv_post_status(struct sv *s, const char *body, size_t len)
{
	struct http_reply r;
	long status;

	sv_post(s, body, len, NULL, &r);
	status = r.ok ? r.status : 0;
	http_reply_release(&r);
	return status;
}

struct burst {
	struct sv *s;
	struct sv_job *jobs;
	size_t n;
	size_t next;  /* accessed atomically */
};

static void *burst_thread(void *ud)
{
	struct burst *b = ud;
	size_t i;

	while ((i = __atomic_fetch_add(&b->next, 1, __ATOMIC_SEQ_CST)) < b->n)
		b->jobs[i].status = sv_post_status(b->s, b->jobs[i].body, b->jobs[i].len);
	return NULL;
}

void sv_post_parallel(struct sv *s, struct sv_job *jobs, size_t n, unsigned nthreads)
{
	struct burst b = { .s = s, .jobs = jobs, .n = n, .next = 0 };
	pthread_t t[64];

	if (nthreads == 0 || nthreads > 64)
		fail_msg("sv_post_parallel: 1-64 threads");
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, burst_thread, &b) != 0)
			fail_msg("pthread_create failed");
	for (unsigned i = 0; i < nthreads; i++)
		(void)pthread_join(t[i], NULL);
}

void sv_get(struct sv *s, const char *path, const char *const *headers, struct http_reply *ret)
{
	char *url = tmp_xasprintf("%s%s", s->base, path);

	(void)http_get(url, headers, ret);
	free(url);
}

/* ---- bodies ----------------------------------------------------------------- */

char *sv_data(const char *name, size_t *ret_len)
{
	char *rel = tmp_xasprintf("events/%s", name);
	char *data = testdata_read(rel, ret_len);

	free(rel);
	return data;
}

static void set_if_present(json_t *o, const char *key, const char *value, bool always)
{
	if (!always && !json_object_get(o, key))
		return;
	if (json_object_set_new(o, key, json_string(value)) != 0)
		abort();
}

char *sv_event(const char *name, const char *event_id, const char *recipient)
{
	size_t len;
	char *text = sv_data(name, &len);
	json_error_t jerr;
	json_t *o = json_loadb(text, len, 0, &jerr);
	char *out;

	if (!json_is_object(o))
		fail_msg("%s: not a JSON object: %s", name, jerr.text);
	if (event_id) {
		set_if_present(o, "event_id", event_id, true);
		set_if_present(o, "eventid", event_id, false);
	}
	if (recipient && !*recipient) {
		(void)json_object_del(o, "recipient_client_id");
		(void)json_object_del(o, "recipientclientid");
	} else if (recipient) {
		set_if_present(o, "recipient_client_id", recipient, true);
		set_if_present(o, "recipientclientid", recipient, false);
	}
	out = json_dumps(o, JSON_COMPACT);
	if (!out)
		abort();
	json_decref(o);
	free(text);
	return out;
}

/* ---- journal and metrics ------------------------------------------------------ */

json_t *sv_events(struct sv *s, ...)
{
	const char *args[32] = { "events", "--json", "--limit", "1000" };
	size_t n = 4;
	json_t *rows = json_array();
	const char *p, *eol;
	va_list ap;

	va_start(ap, s);
	while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	run_result_release(&s->w->r);
	if (!run_cmd(&s->w->r, s->w->dir, &s->w->env, args, FX_RUN_TIMEOUT_MS) ||
	    s->w->r.timed_out)
		fail_msg("cmhook events did not run to completion");
	fx_expect_exit(s->w, 0);
	for (p = s->w->r.out; p && *p; p = eol ? eol + 1 : p + strlen(p)) {
		json_error_t jerr;
		json_t *o;

		eol = strchr(p, '\n');
		if (eol == p)
			continue;
		o = json_loadb(p, eol ? (size_t)(eol - p) : strlen(p), 0, &jerr);
		if (!json_is_object(o)) {
			run_result_dump(&s->w->r, "events --json");
			fail_msg("events --json: a line is not a JSON object: %s", jerr.text);
		}
		(void)json_array_append_new(rows, o);
	}
	return rows;
}

json_t *sv_event_find(json_t *rows, const char *event_id)
{
	size_t i;
	json_t *o;

	json_array_foreach(rows, i, o) {
		const char *id = json_string_value(json_object_get(o, "event_id"));

		if (id && strcmp(id, event_id) == 0)
			return o;
	}
	return NULL;
}

size_t sv_event_count(json_t *rows, const char *event_id)
{
	size_t i, count = 0;
	json_t *o;

	json_array_foreach(rows, i, o) {
		const char *id = json_string_value(json_object_get(o, "event_id"));

		if (id && strcmp(id, event_id) == 0)
			count++;
	}
	return count;
}

double sv_metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			char *end;
			double v = strtod(p + n + 1, &end);

			return end == p + n + 1 ? -1 : v;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

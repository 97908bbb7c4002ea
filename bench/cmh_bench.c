/*
 * The benchmark driver behind `make bench` (scripts/bench.sh builds it against
 * the test harness library). It starts fake upstreams on 127.0.0.1 (IMS, the
 * Cloud Manager API, the signing key host, a Slack sink), runs `cmhook serve`
 * and measures: start to the first answered challenge, idle and peak RSS,
 * acknowledgement throughput and latency under wrk with signed, unique
 * deliveries (and with duplicates), the same wrk load against nginx's
 * `return 200` as a ceiling, and event-to-channel latency plus upstream
 * requests per event with a channel configured. Prints one Markdown table.
 * Everything is bounded: wrk runs for a fixed time, waits have timeouts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "fake_server.h"
#include "fixtures.h"
#include "run.h"
#include "sign.h"

#define PROGRAM "22734"
#define PIPELINE "48201733"
#define PIPELINE_PATH "/api/program/" PROGRAM "/pipeline/" PIPELINE
#define SLACK_PATH "/services/T000/B000/XXXX"
#define MAX_LAT_EVENTS 1000

struct opts {
	unsigned threads, connections, duration_s, events, lat_events, lat_rate;
	const char *lua;
	const char *nginx;
};

struct wrk_result {
	bool ok;
	long requests, duration_us, p50_us, p99_us, p999_us, max_us, non200, sock_errors;
};

static struct opts o = { .threads = 2, .connections = 32, .duration_s = 10, .events = 4000,
			 .lat_events = 40, .lat_rate = 10, .lua = "bench/post.lua",
			 .nginx = "/usr/sbin/nginx" };

static void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		die(path);
	s = calloc(1, (size_t)n + 1);
	if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	return s;
}

/* Replace every occurrence of from in s by to (new string). */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *out, *q;

	for (p = s; (p = strstr(p, from)); p += fl)
		n++;
	out = malloc(strlen(s) + n * tl + 1);
	if (!out)
		die("out of memory");
	for (q = out; (p = strstr(s, from)); s = p + fl) {
		memcpy(q, s, (size_t)(p - s));
		q += p - s;
		memcpy(q, to, tl);
		q += tl;
	}
	strcpy(q, s);
	return out;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		die("no free port");
	close(fd);
	return ntohs(a.sin_port);
}

/* One raw HTTP/1.1 request; true when the status line says 200. */
static bool raw_get_200(uint16_t port, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[256], buf[64] = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;
	int n;

	if (fd < 0)
		return false;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Connection: close\r\n\r\n", path);
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a)) && write(fd, req, (size_t)n) == n &&
	    read(fd, buf, sizeof(buf) - 1) > 12)
		ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
	close(fd);
	return ok;
}


/* ---- bodies ----------------------------------------------------------- */

struct bodies {
	char **body;
	char **sig;
	size_t n;
	const struct sign_key *key;
	size_t next;          /* signing work queue */
	pthread_mutex_t lock;
};

static char *event_body(const char *tmpl, const char *api, size_t i, char exec_id[16])
{
	json_error_t jerr;
	json_t *root = json_loads(tmpl, 0, &jerr);
	char id[64], url[512];
	char *s;

	if (!root)
		die("bad event template");
	snprintf(id, sizeof(id), "b3c9e6a0-5d1f-4c2e-8a7b-%012zu", i);
	snprintf(exec_id, 16, "%07zu", 3000000 + i);
	snprintf(url, sizeof(url), "%s" PIPELINE_PATH "/execution/%s", api, exec_id);
	json_object_set_new(root, "event_id", json_string(id));
	json_object_set_new(json_object_get(json_object_get(root, "event"),
					    "activitystreams:object"), "@id", json_string(url));
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		die("json_dumps");
	return s;
}

static void *sign_worker(void *arg)
{
	struct bodies *b = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&b->lock);
		i = b->next++;
		pthread_mutex_unlock(&b->lock);
		if (i >= b->n)
			return NULL;
		b->sig[i] = sign_body(b->key, b->body[i], strlen(b->body[i]));
	}
}

static void bodies_make(struct bodies *b, size_t n, const char *tmpl, const char *api)
{
	pthread_t t[2];
	char exec_id[16];

	b->n = n;
	b->body = calloc(n, sizeof(char *));
	b->sig = calloc(n, sizeof(char *));
	b->key = sign_key_shared(0);
	b->next = 0;
	pthread_mutex_init(&b->lock, NULL);
	if (!b->body || !b->sig)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		b->body[i] = event_body(tmpl, api, i, exec_id);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, sign_worker, b);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

static void bodies_write(const struct bodies *b, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path);
	for (size_t i = 0; i < b->n; i++)
		fprintf(f, "%s\t%s\t%s\n", b->sig[i], sign_key_path(b->key), b->body[i]);
	if (fclose(f))
		die(path);
}

/* ---- wrk -------------------------------------------------------------- */

static struct wrk_result run_wrk(uint16_t port, const char *mode, const char *bodies,
				 unsigned duration_s)
{
	struct wrk_result r = { 0 };
	char cmd[1024], line[512];
	FILE *p;

	setenv("BENCH_BODIES", bodies, 1);
	setenv("BENCH_MODE", mode, 1);
	snprintf(line, sizeof(line), "%u", o.threads);
	setenv("BENCH_THREADS", line, 1);
	snprintf(cmd, sizeof(cmd), "wrk -t%u -c%u -d%us --timeout 5s -s %s "
		 "http://127.0.0.1:%u/webhook 2>&1", o.threads, o.connections, duration_s, o.lua,
		 port);
	p = popen(cmd, "r");
	if (!p)
		die("cannot run wrk");
	while (fgets(line, sizeof(line), p)) {
		if (strncmp(line, "BENCH ", 6) != 0)
			continue;
		r.ok = sscanf(line, "BENCH requests=%ld duration_us=%ld p50_us=%ld p99_us=%ld "
			      "p999_us=%ld max_us=%ld non200=%ld sock_errors=%ld", &r.requests,
			      &r.duration_us, &r.p50_us, &r.p99_us, &r.p999_us, &r.max_us,
			      &r.non200, &r.sock_errors) == 8;
	}
	if (pclose(p) != 0)
		r.ok = false;
	if (!r.ok)
		fprintf(stderr, "bench: wrk failed (%s)\n", cmd);
	return r;
}

static double rps(const struct wrk_result *r)
{
	return r->duration_us > 0 ? (double)r->requests * 1e6 / (double)r->duration_us : 0;
}

/* ---- the daemon --------------------------------------------------------- */

struct world {
	struct fx_world *w;
	struct fake_server *keyhost, *sink;
	char *dir;
};

static void serve_api(struct world *x, size_t n_exec)
{
	char *prog = slurp(CMH_SOURCE_DIR "/tests/data/cm-integration/program.json");
	char *pipe = slurp(CMH_SOURCE_DIR "/tests/data/cm-integration/pipeline.json");
	char *exec = slurp(CMH_SOURCE_DIR "/tests/data/cm/execution-11.4-running.json");

	fake_push_json(x->w->api, "GET", "/api/program/" PROGRAM, 200, prog);
	fake_push_json(x->w->api, "GET", PIPELINE_PATH, 200, pipe);
	for (size_t i = 0; i < n_exec; i++) {
		char id[16], path[256];
		char *body;

		snprintf(id, sizeof(id), "%07zu", 3000000 + i);
		snprintf(path, sizeof(path), PIPELINE_PATH "/execution/%s", id);
		body = replace_all(exec, "1190642", id);
		fake_push_json(x->w->api, "GET", path, 200, body);
		free(body);
	}
	free(prog);
	free(pipe);
	free(exec);
}

static struct run_bg *serve_start(struct world *x, const struct run_env *env, uint16_t port,
				  double *ret_first_ms)
{
	static const char *const argv[] = { "serve", NULL };
	struct run_env e;
	struct run_bg *bg;
	double t0;

	run_env_copy(&e, env);
	run_env_setf(&e, "PORT", "%u", port);
	t0 = now_ms();
	bg = run_bg_start(x->dir, "serve", &e, argv);
	run_env_release(&e);
	if (!bg)
		die("cannot start cmhook serve");
	/* Poll as fast as a connect fails: the answer time is what we measure. */
	while (!raw_get_200(port, "/webhook?challenge=bench1")) {
		if (now_ms() - t0 > 20000 || run_bg_wait(bg, 0, NULL))
			die("cmhook serve did not answer a challenge within 20 s");
		usleep(200);
	}
	*ret_first_ms = now_ms() - t0;
	return bg;
}

static void serve_stop(struct run_bg *bg)
{
	int code = -1;

	run_bg_signal(bg, SIGTERM);
	if (!run_bg_wait(bg, 20000, &code) || code != 0)
		fprintf(stderr, "bench: serve did not stop cleanly (code %d); log: %s\n", code,
			run_bg_err_path(bg));
	run_bg_free(bg);
}

/* ---- nginx ceiling ------------------------------------------------------ */

static struct run_bg *nginx_start(const char *dir, uint16_t port)
{
	char conf[512], *text;
	const char *argv[] = { "-p", dir, "-c", conf, NULL };
	struct run_env env;
	struct run_bg *bg;
	FILE *f;
	double t0 = now_ms();

	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	if (asprintf(&text,
		     "daemon off;\nmaster_process on;\nworker_processes 2;\n%s"
		     "pid %s/nginx.pid;\nerror_log %s/nginx-error.log warn;\n"
		     "events { worker_connections 1024; }\n"
		     "http {\n access_log off;\n client_body_temp_path %s/ngx-body;\n"
		     " proxy_temp_path %s/ngx-proxy;\n fastcgi_temp_path %s/ngx-fcgi;\n"
		     " uwsgi_temp_path %s/ngx-uwsgi;\n scgi_temp_path %s/ngx-scgi;\n"
		     " client_max_body_size 4m;\n"
		     " server {\n  listen 127.0.0.1:%u;\n"
		     "  location / { return 200 \"ok\"; }\n }\n}\n",
		     getuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, dir,
		     port) < 0)
		die("out of memory");
	f = fopen(conf, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		die(conf);
	free(text);
	run_env_init(&env);
	bg = run_bg_exec(o.nginx, dir, "nginx", &env, argv);
	run_env_release(&env);
	if (!bg)
		die("cannot start nginx");
	while (!raw_get_200(port, "/")) {
		if (now_ms() - t0 > 10000 || run_bg_wait(bg, 0, NULL))
			die("nginx did not start (see nginx.err in the bench directory)");
		usleep(2000);
	}
	return bg;
}

/* ---- event-to-channel latency ------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : -1;
}

struct latency {
	bool ok;
	size_t n, delivered;
	double p50, p99, max;
	size_t ims, api, api_exec;
};

static struct latency channel_latency(struct world *x, const struct run_env *base,
				      const char *tmpl)
{
	struct latency L = { 0 };
	static double sent[MAX_LAT_EVENTS], lat[MAX_LAT_EVENTS];
	char exec_ids[MAX_LAT_EVENTS][16];
	struct run_env env;
	struct run_bg *bg;
	double first;
	size_t n = o.lat_events < MAX_LAT_EVENTS ? o.lat_events : MAX_LAT_EVENTS;
	uint16_t port = free_port();
	char url[128], hdr1[600], hdr2[300], hdr3[600], hdr4[300];
	unsigned gap_ms = o.lat_rate ? 1000 / o.lat_rate : 100;

	serve_api(x, n);
	run_env_copy(&env, base);
	run_env_setf(&env, "DATA_DIR", "%s/data-latency", x->dir);
	run_env_setf(&env, "SLACK_WEBHOOK", "%s" SLACK_PATH, fake_url(x->sink));
	/* Latency of cmhook itself: Slack's 1/s pacing would queue a 10/s stream. */
	run_env_set(&env, "PACE_CHANNELS", "off");
	bg = serve_start(x, &env, port, &first);
	run_env_release(&env);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/webhook", port);
	for (size_t i = 0; i < n; i++) {
		char *body = event_body(tmpl, fake_url(x->w->api), i, exec_ids[i]);
		char *sig = sign_body(sign_key_shared(0), body, strlen(body));
		const char *h[] = { hdr1, hdr2, hdr3, hdr4, "Content-Type: application/json", NULL };
		struct http_reply rep;

		snprintf(hdr1, sizeof(hdr1), "x-adobe-digital-signature-1: %s", sig);
		snprintf(hdr2, sizeof(hdr2), "x-adobe-public-key1-path: %s",
			 sign_key_path(sign_key_shared(0)));
		snprintf(hdr3, sizeof(hdr3), "x-adobe-digital-signature-2: %s", sig);
		snprintf(hdr4, sizeof(hdr4), "x-adobe-public-key2-path: %s",
			 sign_key_path(sign_key_shared(0)));
		sent[i] = now_ms();
		http_post(url, h, body, strlen(body), &rep);
		if (rep.status != 200)
			fprintf(stderr, "bench: latency event %zu answered %ld\n", i, rep.status);
		http_reply_release(&rep);
		free(body);
		free(sig);
		sleep_ms(gap_ms);
	}
	L.ok = fake_wait_requests(x->sink, "POST", SLACK_PATH, n, 60000);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0;; k++) {
			const struct fake_request *rq = fake_request_nth(x->sink, "POST", SLACK_PATH, k);

			if (!rq)
				break;
			if (memmem(rq->body, rq->body_len, exec_ids[i], strlen(exec_ids[i]))) {
				lat[L.delivered++] = (double)rq->at_ms - sent[i];
				break;
			}
		}
	}
	qsort(lat, L.delivered, sizeof(double), cmp_double);
	L.n = n;
	L.p50 = pct(lat, L.delivered, 50);
	L.p99 = pct(lat, L.delivered, 99);
	L.max = L.delivered ? lat[L.delivered - 1] : -1;
	L.ims = fake_count(x->w->ims, "POST", FX_IMS_PATH);
	L.api = fake_count(x->w->api, "GET", NULL);
	L.api_exec = L.api - fake_count(x->w->api, "GET", "/api/program/" PROGRAM) -
		     fake_count(x->w->api, "GET", PIPELINE_PATH) -
		     fake_count(x->w->api, "GET", FX_PROGRAMS_PATH);
	serve_stop(bg);
	return L;
}

/* ---- main ------------------------------------------------------------- */

static unsigned arg_u(const char *name, unsigned def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, &end, 10);
	if (*end || n == 0 || n > 100000)
		die(name);
	return (unsigned)n;
}

static void row(const char *metric, const char *value, const char *target)
{
	printf("| %s | %s | %s |\n", metric, value, target);
}

int main(void)
{
	struct world x = { 0 };
	struct bodies b = { 0 };
	struct wrk_result uq, dup, ng_uq, ng_dup;
	struct run_bg *bg, *ng;
	struct latency L;
	char *tmpl, path[512], v[256];
	double first;
	long idle_kib, peak_kib, loaded_kib;
	uint16_t port;

	o.threads = arg_u("BENCH_THREADS", o.threads);
	o.connections = arg_u("BENCH_CONNECTIONS", o.connections);
	o.duration_s = arg_u("BENCH_DURATION", o.duration_s);
	o.events = arg_u("BENCH_EVENTS", o.events);
	o.lat_events = arg_u("BENCH_LATENCY_EVENTS", o.lat_events);
	o.lat_rate = arg_u("BENCH_LATENCY_RATE", o.lat_rate);
	if (getenv("BENCH_LUA"))
		o.lua = getenv("BENCH_LUA");
	signal(SIGPIPE, SIG_IGN);

	x.w = fx_world_new();
	if (!x.w)
		die("cannot create the fake world");
	x.dir = x.w->dir;
	fx_routes(x.w);
	x.keyhost = fake_start();
	x.sink = fake_start();
	if (!x.keyhost || !x.sink)
		die("cannot start fakes");
	sign_key_serve(sign_key_shared(0), x.keyhost);
	fake_push(x.sink, "POST", SLACK_PATH,
		  &(struct fake_response){ .status = 200, .body = "ok",
					   .headers = "Content-Type: text/plain" });
	run_env_set(&x.w->env, "LISTEN_ADDRESS", "127.0.0.1");
	run_env_set(&x.w->env, "EVENTS_KEY_URL", fake_url(x.keyhost));
	run_env_set(&x.w->env, "LOG_LEVEL", "warn");

	tmpl = slurp(CMH_SOURCE_DIR "/tests/data/events/cm-3.1-started.json");
	fprintf(stderr, "bench: signing %u deliveries\n", o.events);
	bodies_make(&b, o.events, tmpl, fake_url(x.w->api));
	snprintf(path, sizeof(path), "%s/bodies.txt", x.dir);
	bodies_write(&b, path);

	/* 1. cmhook: start, idle, load. */
	port = free_port();
	bg = serve_start(&x, &x.w->env, port, &first);
	sleep_ms(1000);
	idle_kib = run_proc_kib(run_bg_pid(bg), "VmRSS:");
	fprintf(stderr, "bench: cmhook unique-event load\n");
	uq = run_wrk(port, "unique", path, o.duration_s);
	fprintf(stderr, "bench: cmhook duplicate load\n");
	dup = run_wrk(port, "dup", path, o.duration_s);
	loaded_kib = run_proc_kib(run_bg_pid(bg), "VmRSS:");
	peak_kib = run_proc_kib(run_bg_pid(bg), "VmHWM:");
	serve_stop(bg);

	/* 2. the ceiling, same wrk, same bodies. */
	port = free_port();
	ng = nginx_start(x.dir, port);
	fprintf(stderr, "bench: nginx ceiling\n");
	ng_uq = run_wrk(port, "unique", path, o.duration_s);
	ng_dup = run_wrk(port, "dup", path, o.duration_s);
	run_bg_signal(ng, SIGQUIT);
	if (!run_bg_wait(ng, 10000, NULL))
		fprintf(stderr, "bench: nginx did not stop\n");
	run_bg_free(ng);

	/* 3. event to channel. */
	fprintf(stderr, "bench: event-to-channel latency\n");
	L = channel_latency(&x, &x.w->env, tmpl);

	printf("wrk: %u threads, %u connections, %u s max per run; %u unique signed deliveries; "
	       "latency run: %zu events at %u/s\n\n", o.threads, o.connections, o.duration_s,
	       o.events, L.n, o.lat_rate);
	printf("| Metric | cmhook | Target |\n|---|---|---|\n");
	snprintf(v, sizeof(v), "%.0f/s (%ld requests, %ld not 200, %ld socket errors)", rps(&uq),
		 uq.requests, uq.non200, uq.sock_errors);
	row("acks/s, unique events (signature on, durable journal)", v, "");
	snprintf(v, sizeof(v), "%.0f/s (%ld requests, %ld not 200)", rps(&ng_uq), ng_uq.requests,
		 ng_uq.non200);
	row("nginx `return 200` ceiling, same load", v, "");
	snprintf(v, sizeof(v), "**%.1f%%**", rps(&ng_uq) > 0 ? 100.0 * rps(&uq) / rps(&ng_uq) : 0);
	row("cmhook / ceiling (unique)", v, ">= 50%");
	snprintf(v, sizeof(v), "%.2f / %.2f / %.2f ms (max %.1f)", uq.p50_us / 1e3,
		 uq.p99_us / 1e3, uq.p999_us / 1e3, uq.max_us / 1e3);
	row("ack latency p50 / p99 / p99.9 (unique)", v, "p99 < 5 ms");
	snprintf(v, sizeof(v), "%.0f/s, %.1f%% of nginx %.0f/s; p50/p99/p99.9 %.2f/%.2f/%.2f ms",
		 rps(&dup), rps(&ng_dup) > 0 ? 100.0 * rps(&dup) / rps(&ng_dup) : 0, rps(&ng_dup),
		 dup.p50_us / 1e3, dup.p99_us / 1e3, dup.p999_us / 1e3);
	row("acks/s, one body repeated (duplicates after the first)", v, "");
	snprintf(v, sizeof(v), "%.2f / %.2f / %.2f ms", ng_uq.p50_us / 1e3, ng_uq.p99_us / 1e3,
		 ng_uq.p999_us / 1e3);
	row("nginx latency p50 / p99 / p99.9", v, "");
	snprintf(v, sizeof(v), "%.1f MiB", idle_kib / 1024.0);
	row("idle RSS (1 s after start)", v, "< 8 MiB");
	snprintf(v, sizeof(v), "%.1f MiB (after load: %.1f MiB)", peak_kib / 1024.0,
		 loaded_kib / 1024.0);
	row("peak RSS (VmHWM)", v, "< 32 MiB");
	snprintf(v, sizeof(v), "%.1f ms", first);
	row("start to first answered challenge", v, "<= 20 ms");
	snprintf(v, sizeof(v), "%.0f / %.0f ms (max %.0f; %zu of %zu delivered)", L.p50, L.p99,
		 L.max, L.delivered, L.n);
	row("event to channel p50 / p99", v, "");
	snprintf(v, sizeof(v), "%zu for %zu events (one token lifetime)", L.ims, L.n);
	row("IMS requests", v, "<= 1 per token lifetime");
	snprintf(v, sizeof(v), "%.2f per event (%zu in all; %zu for executions)",
		 L.n ? (double)L.api / (double)L.n : 0, L.api, L.api_exec);
	row("Cloud Manager API requests", v, "<= 1 per event once cached");

	fake_stop(x.keyhost);
	fake_stop(x.sink);
	fx_world_free(x.w);
	free(tmpl);
	return uq.ok && ng_uq.ok && L.ok ? 0 : 1;
}

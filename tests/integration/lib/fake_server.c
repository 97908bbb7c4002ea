/*
 * The fake HTTP server behind fake_server.h: libmicrohttpd in
 * thread-per-connection mode so that a scripted delay or "hang" simply
 * blocks that connection's thread on a condition variable, which
 * fake_stop() broadcasts before stopping the daemon. Routes, the request log
 * and the stop flag share one mutex; recorded requests are never modified
 * after publication, so readers may keep pointers to them.
 */
#include "fake_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "tmp.h"

/* Larger than any body cmhook sends upstream; the webhook tests need at most a few MB. */
#define FAKE_MAX_BODY ((size_t)16 * 1024 * 1024)

struct route {
	char *method;
	char *path;
	struct fake_response *resp;  /* deep copies; strings owned by the route */
	size_t n;
	size_t next;                 /* next entry to use; the last one repeats */
	struct route *link;
};

struct fake_server {
	struct MHD_Daemon *daemon;
	uint16_t port;
	char url[40];
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* broadcast on every new request and on stop */
	bool stopping;
	struct route *routes;
	struct fake_request **reqs;
	size_t nreqs;
	size_t reqs_cap;
};

/* Per-request state, created by the URI log callback before the handler runs. */
struct conn_ctx {
	char *uri;
	bool started;
	struct cmh_buf body;
	bool truncated;
};

static char *dup_or_null(const char *s)
{
	return s ? tmp_xstrdup(s) : NULL;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on f->cond. */
static struct timespec deadline_in(unsigned ms)
{
	struct timespec d;

	clock_gettime(CLOCK_MONOTONIC, &d);
	d.tv_sec += ms / 1000;
	d.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d.tv_nsec >= 1000000000L) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000L;
	}
	return d;
}

/* ---- request recording --------------------------------------------------- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct fake_request *req = cls;
	struct fake_header *h;

	h = realloc(req->headers, (req->nheaders + 1) * sizeof(*h));
	if (!h)
		abort();
	req->headers = h;
	h[req->nheaders].name = tmp_xstrdup(key);
	h[req->nheaders].value = tmp_xstrdup(value ? value : "");
	req->nheaders++;
	return MHD_YES;
}

static struct fake_request *request_build(struct MHD_Connection *conn, const char *method,
					  struct conn_ctx *ctx)
{
	struct fake_request *req = tmp_xmalloc(sizeof(*req));
	const char *q = strchr(ctx->uri, '?');

	memset(req, 0, sizeof(*req));
	req->method = tmp_xstrdup(method);
	if (q) {
		req->path = strndup(ctx->uri, (size_t)(q - ctx->uri));
		if (!req->path)
			abort();
		req->query = tmp_xstrdup(q + 1);
	} else {
		req->path = tmp_xstrdup(ctx->uri);
		req->query = tmp_xstrdup("");
	}
	(void)MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, req);
	req->body_len = ctx->body.len;
	req->body = tmp_xmalloc(ctx->body.len + 1);
	memcpy(req->body, ctx->body.data, ctx->body.len + 1);
	req->body_truncated = ctx->truncated;
	req->at_ms = mono_ms();
	return req;
}

static void request_free(struct fake_request *req)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->method);
	free(req->path);
	free(req->query);
	free(req->body);
	free(req);
}

/* Caller holds f->lock. */
static void request_publish(struct fake_server *f, struct fake_request *req)
{
	if (f->nreqs == f->reqs_cap) {
		f->reqs_cap = f->reqs_cap ? f->reqs_cap * 2 : 32;
		f->reqs = realloc(f->reqs, f->reqs_cap * sizeof(*f->reqs));
		if (!f->reqs)
			abort();
	}
	req->seq = f->nreqs;
	f->reqs[f->nreqs++] = req;
	(void)pthread_cond_broadcast(&f->cond);
}

/* ---- routes --------------------------------------------------------------- */

static struct route *route_find(struct fake_server *f, const char *method, const char *path)
{
	for (struct route *r = f->routes; r; r = r->link)
		if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

/* The scripted entry to answer with (a shallow copy), false when there is no route. Caller holds the lock. */
static bool route_pick(struct fake_server *f, const char *method, const char *path,
		       struct fake_response *ret)
{
	struct route *r = route_find(f, method, path);

	if (!r || r->n == 0)
		return false;
	*ret = r->resp[r->next];
	if (r->next + 1 < r->n)
		r->next++;
	return true;
}

void fake_push(struct fake_server *f, const char *method, const char *path,
	       const struct fake_response *resp)
{
	struct fake_response *copy;
	struct route *r;

	(void)pthread_mutex_lock(&f->lock);
	r = route_find(f, method, path);
	if (!r) {
		r = tmp_xmalloc(sizeof(*r));
		memset(r, 0, sizeof(*r));
		r->method = tmp_xstrdup(method);
		r->path = tmp_xstrdup(path);
		r->link = f->routes;
		f->routes = r;
	}
	r->resp = realloc(r->resp, (r->n + 1) * sizeof(*r->resp));
	if (!r->resp)
		abort();
	copy = &r->resp[r->n++];
	*copy = *resp;
	copy->headers = dup_or_null(resp->headers);
	if (resp->body) {
		size_t len = resp->body_len ? resp->body_len : strlen(resp->body);
		char *b = tmp_xmalloc(len + 1);

		memcpy(b, resp->body, len);
		b[len] = '\0';
		copy->body = b;
		copy->body_len = len;
	}
	copy->free_body = copy->free_headers = false;
	(void)pthread_mutex_unlock(&f->lock);
}

void fake_push_json(struct fake_server *f, const char *method, const char *path,
		    unsigned status, const char *body)
{
	struct fake_response r = {
		.status = status,
		.headers = "Content-Type: application/json",
		.body = body,
	};

	fake_push(f, method, path, &r);
}

static void routes_free(struct route *r)
{
	while (r) {
		struct route *next = r->link;

		for (size_t i = 0; i < r->n; i++) {
			free((char *)r->resp[i].headers);
			free((char *)r->resp[i].body);
		}
		free(r->resp);
		free(r->method);
		free(r->path);
		free(r);
		r = next;
	}
}

/* ---- answering ------------------------------------------------------------ */

/*
 * Block this connection's thread for delay_ms (UINT_MAX: until stop). Returns
 * false when the server is stopping, so the connection should be closed.
 */
static bool wait_or_stop(struct fake_server *f, unsigned delay_ms, bool forever)
{
	struct timespec deadline = deadline_in(delay_ms);
	bool stopping;

	(void)pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		int rc = forever ? pthread_cond_wait(&f->cond, &f->lock)
				 : pthread_cond_timedwait(&f->cond, &f->lock, &deadline);

		if (rc == ETIMEDOUT)
			break;
	}
	stopping = f->stopping;
	(void)pthread_mutex_unlock(&f->lock);
	return !stopping;
}

/* Add "Name: value" lines; reports whether a Content-Type was among them. */
static bool add_headers(struct MHD_Response *mr, const char *lines)
{
	bool has_ct = false;
	const char *p = lines;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char *line = strndup(p, len);
		char *colon = line ? strchr(line, ':') : NULL;

		if (!line)
			abort();
		if (colon) {
			char *value = colon + 1;

			*colon = '\0';
			while (*value == ' ')
				value++;
			if (len > 0 && line[len - 1] == '\r')
				line[len - 1] = '\0';
			if (strcasecmp(line, "Content-Type") == 0)
				has_ct = true;
			(void)MHD_add_response_header(mr, line, value);
		}
		free(line);
		p = eol ? eol + 1 : p + len;
	}
	return has_ct;
}

/* A chunked body: its own copy, because MHD reads it after the handler (and free_body) ran. */
struct chunked_body {
	size_t len;
	char data[];
};

static ssize_t chunked_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct chunked_body *b = cls;

	if (pos >= b->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > b->len - pos)
		max = b->len - (size_t)pos;
	memcpy(buf, b->data + pos, max);
	return (ssize_t)max;
}

static struct MHD_Response *chunked_response(const char *body, size_t len)
{
	struct chunked_body *b = tmp_xmalloc(sizeof(*b) + len);
	struct MHD_Response *mr;

	b->len = len;
	memcpy(b->data, body, len);
	mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, chunked_read, b, free);
	if (!mr)
		free(b);
	return mr;
}

static enum MHD_Result answer(struct MHD_Connection *conn, const struct fake_response *r)
{
	size_t len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (r->chunked)
		mr = chunked_response(r->body ? r->body : "", len);
	else
		mr = MHD_create_response_from_buffer(len, (void *)(r->body ? r->body : ""),
						     MHD_RESPMEM_MUST_COPY);
	if (!mr)
		return MHD_NO;
	if (!add_headers(mr, r->headers) && len > 0)
		(void)MHD_add_response_header(mr, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, r->status ? r->status : 200, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result respond(struct fake_server *f, struct MHD_Connection *conn,
			       const struct fake_request *req)
{
	struct fake_response r;
	enum MHD_Result ret;
	bool found;

	(void)pthread_mutex_lock(&f->lock);
	found = route_pick(f, req->method, req->path, &r);
	(void)pthread_mutex_unlock(&f->lock);
	if (req->body_truncated) {
		memset(&r, 0, sizeof(r));
		r.status = 413;
	} else if (!found) {
		memset(&r, 0, sizeof(r));
		r.status = 404;
		r.body = "{\"error\":\"no route in fake server\"}";
	} else if (r.handler) {
		fake_handler_fn handler = r.handler;

		r.handler = NULL;
		handler(req, &r, r.ud);
	}
	if (r.hang) {
		(void)wait_or_stop(f, 0, true);
		ret = MHD_NO;
	} else if (r.delay_ms && !wait_or_stop(f, r.delay_ms, false))
		ret = MHD_NO;
	else if (r.drop)
		ret = MHD_NO;
	else
		ret = answer(conn, &r);
	if (r.free_body)
		free((char *)r.body);
	if (r.free_headers)
		free((char *)r.headers);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct fake_server *f = cls;
	struct conn_ctx *ctx = *con_cls;
	struct fake_request *req;

	if (!ctx)
		return MHD_NO;
	if (!ctx->started) {
		ctx->started = true;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!ctx->truncated && cmh_buf_add(&ctx->body, upload_data, *upload_data_size) != CMH_OK)
			ctx->truncated = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	req = request_build(conn, method, ctx);
	(void)pthread_mutex_lock(&f->lock);
	request_publish(f, req);
	(void)pthread_mutex_unlock(&f->lock);
	return respond(f, conn, req);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_ctx *ctx = tmp_xmalloc(sizeof(*ctx));

	memset(ctx, 0, sizeof(*ctx));
	ctx->uri = tmp_xstrdup(uri ? uri : "");
	cmh_buf_init(&ctx->body, FAKE_MAX_BODY);
	return ctx;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	if (!ctx)
		return;
	cmh_buf_release(&ctx->body);
	free(ctx->uri);
	free(ctx);
	*con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

/*
 * MHD's error log, minus the line it prints whenever a handler refuses to
 * answer: that is how "hang", "drop" and a delay cut short by fake_stop()
 * close their connections on purpose.
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "Application reported internal error") != NULL)
		return;
	fprintf(stderr, "fake_server: %s", msg);
}

struct fake_server *fake_start(void)
{
	struct fake_server *f = tmp_xmalloc(sizeof(*f));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	const union MHD_DaemonInfo *info;
	pthread_condattr_t ca;

	memset(f, 0, sizeof(*f));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)pthread_mutex_init(&f->lock, NULL);
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&f->cond, &ca);
	(void)pthread_condattr_destroy(&ca);
	f->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, f,
		/* First, or MHD logs the options before it with its own logger. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, f,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, f,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
		MHD_OPTION_END);
	if (!f->daemon)
		goto fail;
	info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || info->port == 0)
		goto fail;
	f->port = info->port;
	(void)snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)f->port);
	return f;
fail:
	fake_stop(f);
	return NULL;
}

void fake_stop(struct fake_server *f)
{
	if (!f)
		return;
	/* Release held and delayed connections first: MHD joins their threads. */
	(void)pthread_mutex_lock(&f->lock);
	f->stopping = true;
	(void)pthread_cond_broadcast(&f->cond);
	(void)pthread_mutex_unlock(&f->lock);
	if (f->daemon)
		MHD_stop_daemon(f->daemon);
	for (size_t i = 0; i < f->nreqs; i++)
		request_free(f->reqs[i]);
	free(f->reqs);
	routes_free(f->routes);
	(void)pthread_cond_destroy(&f->cond);
	(void)pthread_mutex_destroy(&f->lock);
	free(f);
}

uint16_t fake_port(const struct fake_server *f)
{
	return f->port;
}

const char *fake_url(const struct fake_server *f)
{
	return f->url;
}

/* ---- queries -------------------------------------------------------------- */

static bool matches(const struct fake_request *req, const char *method, const char *path)
{
	return (!method || strcmp(req->method, method) == 0) &&
	       (!path || strcmp(req->path, path) == 0);
}

/* Caller holds the lock. */
static size_t count_locked(struct fake_server *f, const char *method, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nreqs; i++)
		if (matches(f->reqs[i], method, path))
			n++;
	return n;
}

size_t fake_count(struct fake_server *f, const char *method, const char *path)
{
	size_t n;

	(void)pthread_mutex_lock(&f->lock);
	n = count_locked(f, method, path);
	(void)pthread_mutex_unlock(&f->lock);
	return n;
}

const struct fake_request *fake_request_nth(struct fake_server *f, const char *method,
					    const char *path, size_t n)
{
	const struct fake_request *found = NULL;

	(void)pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nreqs && !found; i++)
		if (matches(f->reqs[i], method, path) && n-- == 0)
			found = f->reqs[i];
	(void)pthread_mutex_unlock(&f->lock);
	return found;
}

bool fake_wait_requests(struct fake_server *f, const char *method, const char *path, size_t n,
			unsigned timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);
	bool ok;

	(void)pthread_mutex_lock(&f->lock);
	while (!(ok = count_locked(f, method, path) >= n))
		if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT)
			break;
	if (!ok)
		ok = count_locked(f, method, path) >= n;
	(void)pthread_mutex_unlock(&f->lock);
	return ok;
}

const struct fake_request *fake_request_last(struct fake_server *f, const char *method,
					     const char *path)
{
	const struct fake_request *found = NULL;

	(void)pthread_mutex_lock(&f->lock);
	for (size_t i = f->nreqs; i > 0 && !found; i--)
		if (matches(f->reqs[i - 1], method, path))
			found = f->reqs[i - 1];
	(void)pthread_mutex_unlock(&f->lock);
	return found;
}

const char *fake_header(const struct fake_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* ---- form decoding -------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..len) into a new string; NULL when malformed. */
static char *form_decode(const char *s, size_t len)
{
	char *out = tmp_xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			out[o++] = ' ';
		} else if (c <= 0x20 || c >= 0x7f || c == '#' || c == '&' || c == '=') {
			free(out);
			return NULL;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

char *fake_form_value(const char *body, size_t len, const char *name, int *ret_count)
{
	const char *p = body, *end = body + len;
	char *found = NULL;
	int count = 0;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fend = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(fend - p));
		char *key, *value;

		if (!eq)
			goto bad;
		key = form_decode(p, (size_t)(eq - p));
		value = form_decode(eq + 1, (size_t)(fend - eq - 1));
		if (!key || !value) {
			free(key);
			free(value);
			goto bad;
		}
		if (strcmp(key, name) == 0 && count++ == 0)
			found = value;
		else
			free(value);
		free(key);
		p = amp ? amp + 1 : end;
	}
	if (ret_count)
		*ret_count = count;
	return found;
bad:
	free(found);
	if (ret_count)
		*ret_count = 0;
	return NULL;
}

/* ---- a port that refuses ----------------------------------------------------- */

int fake_refusing_port(uint16_t *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		abort();
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/*
 * libmicrohttpd adapter. MHD owns parsing, connection handling and the
 * thread pool; this file adds the listening socket (so port 0 works and the
 * real port is known), body accumulation under a hard cap, and the
 * answer-later protocol: a handler that cannot answer at once leaves the
 * exchange pending, the connection is suspended, and whoever answers resumes
 * it. A small state machine under a per-exchange mutex makes "answered before
 * we suspended" and "answered after" both safe.
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Per-connection memory for the request line, headers and read buffer.
 * libmicrohttpd clears this pool for every request, so its size is paid on
 * every request (profiled: a 64 KiB pool cost a fifth of all instructions).
 * Adobe's headers are a few hundred bytes; 16 KiB leaves ample room and
 * larger header blocks are refused by libmicrohttpd with 431. */
#define HEADER_MEMORY_LIMIT (16 * 1024)
#define LISTEN_BACKLOG 1024
/* A request body must arrive within this time, however it trickles in:
 * the idle timeout alone lets a slow sender hold its buffer for ever. */
#define REQUEST_BODY_DEADLINE_US (30ull * 1000 * 1000)

enum exchange_state {
	X_RECEIVING = 0,  /* body still arriving */
	X_HANDLING,       /* handler running on the server thread */
	X_SUSPENDED,      /* handler returned without answering; connection suspended */
	X_READY,          /* answer stored, to be queued by the server thread */
	X_SENT,
};

struct cmh_http_exchange {
	struct cmh_http_server *server;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	struct cmh_buf body;
	bool too_large;
	uint64_t started_us;
	size_t accounted;         /* body bytes counted in the server's budget */
	uint64_t ready_us;
	pthread_mutex_t lock;
	enum exchange_state state;
	struct MHD_Response *response;
	unsigned status;
};

struct cmh_http_server {
	struct MHD_Daemon *daemon;
	struct cmh_http_server_config cfg;
	uint16_t port;
	int listen_fd;
	bool quiesced;
	size_t buffered;          /* body bytes held by all connections (atomic access) */
};

uint64_t cmh_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *cmh_http_exchange_method(const struct cmh_http_exchange *x) { return x->method; }
const char *cmh_http_exchange_path(const struct cmh_http_exchange *x) { return x->path; }
bool cmh_http_exchange_too_large(const struct cmh_http_exchange *x) { return x->too_large; }
uint64_t cmh_http_exchange_ready_us(const struct cmh_http_exchange *x) { return x->ready_us; }

const char *cmh_http_exchange_header(const struct cmh_http_exchange *x, const char *name)
{
	return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

const char *cmh_http_exchange_query(const struct cmh_http_exchange *x, const char *name)
{
	return MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *cmh_http_exchange_body(const struct cmh_http_exchange *x, size_t *ret_len)
{
	*ret_len = x->body.len;
	return x->body.data;
}

static struct MHD_Response *make_response(const char *content_type, const char *body, size_t len,
					  unsigned retry_after_s)
{
	struct MHD_Response *r;
	char ra[16];

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return NULL;
	if (content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (retry_after_s) {
		snprintf(ra, sizeof(ra), "%u", retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	return r;
}

void cmh_http_exchange_respond(struct cmh_http_exchange *x, unsigned status,
			       const char *content_type, const char *body, size_t len,
			       unsigned retry_after_s)
{
	struct MHD_Response *r = make_response(content_type, body ? body : "", body ? len : 0,
					       retry_after_s);
	bool resume;

	pthread_mutex_lock(&x->lock);
	if (x->state != X_HANDLING && x->state != X_SUSPENDED)
		CMH_BUG("exchange answered twice or before its body was complete");
	x->response = r;
	x->status = status;
	resume = x->state == X_SUSPENDED;
	x->state = X_READY;
	/* Resume under the lock: the server thread cannot queue (and free) the
	 * exchange until we release it, so x stays valid for this call. */
	if (resume)
		MHD_resume_connection(x->conn);
	pthread_mutex_unlock(&x->lock);
}

static enum MHD_Result queue_ready(struct cmh_http_exchange *x)
{
	enum MHD_Result ret;

	x->state = X_SENT;
	if (!x->response)
		return MHD_NO; /* out of memory building the answer: drop the connection */
	ret = MHD_queue_response(x->conn, x->status, x->response);
	MHD_destroy_response(x->response);
	x->response = NULL;
	return ret;
}

/* Run the handler; queue its answer if it gave one, else suspend. */
static enum MHD_Result dispatch(struct cmh_http_exchange *x)
{
	enum MHD_Result ret = MHD_YES;

	x->ready_us = cmh_monotonic_us();
	x->state = X_HANDLING;
	x->server->cfg.handler(x, x->server->cfg.handler_ud);
	pthread_mutex_lock(&x->lock);
	if (x->state == X_READY) {
		ret = queue_ready(x);
	} else {
		x->state = X_SUSPENDED;
		MHD_suspend_connection(x->conn);
	}
	pthread_mutex_unlock(&x->lock);
	return ret;
}

static struct cmh_http_exchange *exchange_new(struct cmh_http_server *s,
					      struct MHD_Connection *conn, const char *url,
					      const char *method)
{
	struct cmh_http_exchange *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->server = s;
	x->conn = conn;
	x->path = url;
	x->method = method;
	x->started_us = cmh_monotonic_us();
	cmh_buf_init(&x->body, s->cfg.max_body);
	pthread_mutex_init(&x->lock, NULL);
	return x;
}

/* A declared Content-Length over the cap is refused before reading the body. */
static bool declared_too_large(struct MHD_Connection *conn, size_t max)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long v;

	if (!cl)
		return false;
	errno = 0;
	v = strtoull(cl, &end, 10);
	return errno == ERANGE || (*end == '\0' && end != cl && v > max);
}

/*
 * Keep n more body bytes, within this request's cap (over it: 413 at the
 * end) and the server-wide budget of buffered bytes (over it: close the
 * connection, so unauthenticated uploads cannot take all memory).
 */
static enum MHD_Result buffer_upload(struct cmh_http_server *s, struct cmh_http_exchange *x,
				     const char *data, size_t *n)
{
	size_t held = __atomic_add_fetch(&s->buffered, *n, __ATOMIC_RELAXED);

	if (s->cfg.max_buffered && held > s->cfg.max_buffered) {
		__atomic_sub_fetch(&s->buffered, *n, __ATOMIC_RELAXED);
		cmh_log(CMH_LOG_WARN, "http", "request bodies over the memory budget: closing a "
			"connection", "buffered=%zu", held - *n);
		return MHD_NO;
	}
	if (cmh_buf_add(&x->body, data, *n)) {
		__atomic_sub_fetch(&s->buffered, *n, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&s->buffered, x->accounted, __ATOMIC_RELAXED);
		x->accounted = 0;
		x->too_large = true;
		cmh_buf_release(&x->body);
	} else {
		x->accounted += *n;
	}
	*n = 0;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct cmh_http_server *s = cls;
	struct cmh_http_exchange *x = *con_cls;
	enum MHD_Result ret;

	(void)version;
	if (!x) {
		x = exchange_new(s, conn, url, method);
		if (!x)
			return MHD_NO;
		*con_cls = x;
		if (declared_too_large(conn, s->cfg.max_body)) {
			x->too_large = true;
			return dispatch(x);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (cmh_monotonic_us() - x->started_us > REQUEST_BODY_DEADLINE_US)
			return MHD_NO; /* close: a sender this slow gets no more of our time */
		if (!x->too_large)
			return buffer_upload(s, x, upload_data, upload_data_size);
		/* Past the cap the rest is read and dropped, never buffered. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&x->lock);
	if (x->state == X_READY) {
		ret = queue_ready(x);
		pthread_mutex_unlock(&x->lock);
		return ret;
	}
	if (x->state != X_RECEIVING) {
		pthread_mutex_unlock(&x->lock);
		return MHD_YES; /* early answer already queued or still pending */
	}
	pthread_mutex_unlock(&x->lock);
	return dispatch(x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct cmh_http_exchange *x = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!x)
		return;
	if (x->response)
		MHD_destroy_response(x->response);
	__atomic_sub_fetch(&x->server->buffered, x->accounted, __ATOMIC_RELAXED);
	cmh_buf_release(&x->body);
	pthread_mutex_destroy(&x->lock);
	free(x);
	*con_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	cmh_log(CMH_LOG_DEBUG, "http", "libmicrohttpd", "detail=%s", cmh_q(line));
}

static enum cmh_err open_listener(const char *address, uint16_t port, int *ret_fd,
				  uint16_t *ret_port, bool *ret_v6, struct cmh_buf *errmsg)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
		*ret_v6 = false;
	} else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
		*ret_v6 = true;
	} else {
		cmh_errf(errmsg, "LISTEN_ADDRESS: %s is not a numeric IPv4 or IPv6 address", address);
		return CMH_ERR_CONFIG;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	*ret_port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
	*ret_fd = fd;
	return CMH_OK;
fail:
	cmh_errf(errmsg, "cannot listen on %s port %u: %s", address, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return CMH_ERR_IO;
}

enum cmh_err cmh_http_server_start(const struct cmh_http_server_config *cfg,
				   struct cmh_http_server **ret, struct cmh_buf *errmsg)
{
	struct cmh_http_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	unsigned threads = cfg->threads;
	bool v6 = false;
	enum cmh_err err;

	if (!s)
		return CMH_ERR_NOMEM;
	s->cfg = *cfg;
	err = open_listener(cfg->address, cfg->port, &s->listen_fd, &s->port, &v6, errmsg);
	if (err) {
		free(s);
		return err;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 && n < 64 ? (unsigned)n : 2;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY_LIMIT,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		cmh_errf(errmsg, "cannot start the HTTP server on %s port %u", cfg->address, s->port);
		close(s->listen_fd);
		free(s);
		return CMH_ERR_IO;
	}
	*ret = s;
	return CMH_OK;
}

uint16_t cmh_http_server_port(const struct cmh_http_server *s)
{
	return s->port;
}

void cmh_http_server_quiesce(struct cmh_http_server *s)
{
	MHD_socket fd;

	if (!s || s->quiesced)
		return;
	s->quiesced = true;
	fd = MHD_quiesce_daemon(s->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

bool cmh_http_server_drain(struct cmh_http_server *s, unsigned timeout_ms)
{
	uint64_t deadline = cmh_monotonic_us() + (uint64_t)timeout_ms * 1000u;
	const union MHD_DaemonInfo *info;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (;;) {
		info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (!info || info->num_connections == 0)
			return true;
		if (cmh_monotonic_us() >= deadline)
			return false;
		/* Shutdown path only: MHD offers no completion notification to wait on. */
		nanosleep(&pause, NULL);
	}
}

void cmh_http_server_stop(struct cmh_http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}

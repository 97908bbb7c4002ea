/*
 * The libmicrohttpd adapter: listening socket, limits (connections, idle
 * timeout, header memory, body size), and a request/response exchange that a
 * handler may answer either at once or later from another thread (the
 * connection is suspended meanwhile, so no server thread waits for a journal
 * commit or a key fetch). The only file that includes <microhttpd.h>.
 *
 * Lifecycle: cmh_http_server_start() -> requests flow -> cmh_http_server_quiesce()
 * (stop accepting) -> everyone answers their pending exchanges ->
 * cmh_http_server_stop().
 */
#ifndef CMH_HTTP_SERVER_H
#define CMH_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct cmh_http_server;
struct cmh_http_exchange;

/*
 * Called once per request when its body is complete, or early (with
 * cmh_http_exchange_too_large() true and no body) when the declared or
 * received size exceeds max_body. The handler must eventually call
 * cmh_http_exchange_respond() exactly once, from any thread; after that call
 * the exchange must not be touched again.
 */
typedef void (*cmh_http_handler_fn)(struct cmh_http_exchange *x, void *ud);

struct cmh_http_server_config {
	const char *address;        /* numeric IPv4 or IPv6 address */
	uint16_t port;              /* 0: pick a free port (tests) */
	size_t max_body;
	size_t max_buffered;        /* body bytes held by all connections together; 0: no cap */
	unsigned max_connections;
	unsigned idle_timeout_s;    /* per connection, also bounds slow senders */
	unsigned threads;           /* server threads (0: number of CPUs) */
	cmh_http_handler_fn handler;
	void *handler_ud;
};

CMH_MUST_CHECK enum cmh_err cmh_http_server_start(const struct cmh_http_server_config *cfg,
	struct cmh_http_server **ret, struct cmh_buf *errmsg);
/* The bound port (useful with port 0). */
uint16_t cmh_http_server_port(const struct cmh_http_server *s);
/* Stop accepting new connections; in-flight requests continue. */
void cmh_http_server_quiesce(struct cmh_http_server *s);
/* Wait up to timeout_ms for open connections to finish; true if none are left. */
bool cmh_http_server_drain(struct cmh_http_server *s, unsigned timeout_ms);
/* Stop the threads and close everything. Every exchange must have been answered. */
void cmh_http_server_stop(struct cmh_http_server *s);

const char *cmh_http_exchange_method(const struct cmh_http_exchange *x);
const char *cmh_http_exchange_path(const struct cmh_http_exchange *x);
/* Header value by case-insensitive name, NULL when absent. */
const char *cmh_http_exchange_header(const struct cmh_http_exchange *x, const char *name);
/* Query argument (decoded) by name, NULL when absent. */
const char *cmh_http_exchange_query(const struct cmh_http_exchange *x, const char *name);
const char *cmh_http_exchange_body(const struct cmh_http_exchange *x, size_t *ret_len);
bool cmh_http_exchange_too_large(const struct cmh_http_exchange *x);
/* Monotonic microseconds at which the body was complete (for latency metrics). */
uint64_t cmh_http_exchange_ready_us(const struct cmh_http_exchange *x);

/*
 * Answer the request. body is copied. retry_after_s > 0 adds Retry-After.
 * Thread-safe; call exactly once.
 */
void cmh_http_exchange_respond(struct cmh_http_exchange *x, unsigned status,
	const char *content_type, const char *body, size_t len, unsigned retry_after_s);

/* Monotonic clock in microseconds. */
uint64_t cmh_monotonic_us(void);

#endif

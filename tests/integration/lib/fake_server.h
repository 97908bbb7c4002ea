/*
 * A programmable fake HTTP server for integration tests (libmicrohttpd,
 * internal thread, one thread per connection), bound to 127.0.0.1 on an
 * ephemeral port. It stands in for IMS, the Cloud Manager API, the signing
 * key host and the notification channels.
 *
 * Routes are exact (method, path) pairs; the query string is not part of the
 * match and is recorded separately. Each route holds a queue of responses:
 * they are used in order and the last one repeats. A response may instead
 * name a handler that computes the answer from the request. A request to an
 * unknown route gets 404 and is still recorded.
 *
 * Every request is recorded (method, path, query, headers, body) before it
 * is answered, so a test can wait for a request to a route that never
 * answers. Recorded requests are immutable and stay valid until fake_stop().
 *
 * Thread-safety: all functions may be called from any thread while the
 * server runs; fake_stop() must be the last call. fake_stop() returns within
 * a second or two even when connections are held ("hang") or delayed.
 */
#ifndef CMH_TEST_FAKE_SERVER_H
#define CMH_TEST_FAKE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_server;

struct fake_header {
	char *name;
	char *value;
};

struct fake_request {
	size_t seq;                  /* arrival order over all routes, from 0 */
	char *method;
	char *path;                  /* as sent (not percent-decoded), without the query */
	char *query;                 /* raw query after '?', "" when none */
	struct fake_header *headers; /* in the order received */
	size_t nheaders;
	char *body;                  /* NUL-terminated; may contain NULs */
	size_t body_len;
	bool body_truncated;         /* the body exceeded the fake's cap (answered 413) */
	long at_ms;                  /* arrival time, CLOCK_MONOTONIC milliseconds */
};

struct fake_response;

/*
 * A dynamic answer: fill in *resp (pre-set to a copy of the scripted entry
 * with handler == NULL). Runs on the connection's thread. Memory that
 * body/headers point to must stay valid until the handler returns; set
 * free_body/free_headers to have the server free() them afterwards.
 */
typedef void (*fake_handler_fn)(const struct fake_request *req, struct fake_response *resp,
				void *ud);

struct fake_response {
	unsigned status;          /* 0 means 200 */
	const char *headers;      /* "Name: value" lines separated by '\n', or NULL */
	const char *body;         /* NULL: empty body */
	size_t body_len;          /* 0: strlen(body) */
	unsigned delay_ms;        /* wait this long before answering */
	bool hang;                /* never answer: hold the connection until fake_stop() */
	bool drop;                /* close the connection without any answer */
	bool chunked;             /* send the body without Content-Length (chunked) */
	fake_handler_fn handler;  /* dynamic answer (see above) */
	void *ud;                 /* handler's argument */
	bool free_body;           /* handlers only: free(body) after use */
	bool free_headers;        /* handlers only: free(headers) after use */
};

/*
 * Start a server on 127.0.0.1:0; NULL on failure. Without Content-Type among
 * a response's headers, a non-empty body is sent as application/json.
 */
struct fake_server *fake_start(void);

/* Stop the server, release held connections, free everything. NULL is fine. */
void fake_stop(struct fake_server *f);

uint16_t fake_port(const struct fake_server *f);
/* "http://127.0.0.1:PORT" (no trailing slash); valid until fake_stop(). */
const char *fake_url(const struct fake_server *f);

/* Append a response to the route's queue (copied: r's strings need not outlive the call). */
void fake_push(struct fake_server *f, const char *method, const char *path,
	       const struct fake_response *r);
/* Shorthand: status + body with Content-Type application/json. */
void fake_push_json(struct fake_server *f, const char *method, const char *path,
		    unsigned status, const char *body);

/* Requests recorded for (method, path); NULL method or path matches any. */
size_t fake_count(struct fake_server *f, const char *method, const char *path);

/* The nth (from 0) recorded request for (method, path), or NULL. */
const struct fake_request *fake_request_nth(struct fake_server *f, const char *method,
					    const char *path, size_t n);

/*
 * Wait until at least n requests for (method, path) have been recorded, at
 * most timeout_ms (condition variable, no polling). True when they arrived.
 */
bool fake_wait_requests(struct fake_server *f, const char *method, const char *path, size_t n,
			unsigned timeout_ms);

/* The most recent recorded request for (method, path), or NULL. */
const struct fake_request *fake_request_last(struct fake_server *f, const char *method,
					     const char *path);

/* The value of the first header called name (case-insensitive), or NULL. */
const char *fake_header(const struct fake_request *req, const char *name);

/*
 * Strict application/x-www-form-urlencoded lookup: the decoded value of the
 * first field called name, as a new string (free() it), with the number of
 * fields of that name in *ret_count (when not NULL). NULL when the field is
 * absent or when ANY part of the body is malformed: a bad %-escape, a raw
 * space, control or non-ASCII byte, or a field without '='.
 */
char *fake_form_value(const char *body, size_t len, const char *name, int *ret_count);

/*
 * A port on 127.0.0.1 where connecting is refused: the returned socket is
 * bound to it but not listening, so no one else can take the port while the
 * caller holds it. close() the socket when done; aborts on failure.
 */
int fake_refusing_port(uint16_t *ret_port);

#endif

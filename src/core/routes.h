/*
 * The HTTP endpoints of `cmhook serve` (INTERFACE.md): WEBHOOK_PATH (GET
 * challenge, POST events via receiver.c), /healthz, /readyz, /metrics.
 * cmh_routes_handle() is the cmh_http_handler_fn given to the server.
 */
#ifndef CMH_ROUTES_H
#define CMH_ROUTES_H

#include <stdint.h>

struct cmh_config;
struct cmh_http_exchange;
struct cmh_ims;
struct cmh_journal;
struct cmh_keycache;
struct cmh_metrics;
struct cmh_receiver;

struct cmh_routes {
	const struct cmh_config *cfg;
	struct cmh_receiver *receiver;
	struct cmh_journal *journal;
	struct cmh_keycache *keys;     /* may be NULL */
	struct cmh_ims *ims;           /* may be NULL */
	struct cmh_metrics *metrics;
	int64_t started_ms;
	int draining;                  /* set at shutdown (atomic access): /readyz answers 503 */
};

/* ud is a struct cmh_routes *. */
void cmh_routes_handle(struct cmh_http_exchange *x, void *ud);

#endif

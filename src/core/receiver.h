/*
 * The webhook receiver: everything `serve` does with a POST to WEBHOOK_PATH
 * before it answers, in DESIGN's order — size limit, signature, parsing,
 * recipient — then a durable journal append, then 200. It never calls an
 * upstream on a server thread: a delivery whose signing key is not cached is
 * handed to the receiver's key thread, and the answer waits (connection
 * suspended) for the journal's group commit.
 *
 * Thread-safety: cmh_receiver_post() is called from the HTTP server threads;
 * new/free by the owner.
 */
#ifndef CMH_RECEIVER_H
#define CMH_RECEIVER_H

#include <stdbool.h>

#include "err.h"

struct cmh_config;
struct cmh_http_exchange;
struct cmh_journal;
struct cmh_keycache;
struct cmh_metrics;
struct cmh_receiver;

struct cmh_receiver_deps {
	const struct cmh_config *cfg;
	struct cmh_journal *journal;
	struct cmh_keycache *keys;     /* NULL when SIGNATURE_VERIFY=off */
	struct cmh_metrics *metrics;
	/* Called (on the journal's committer thread) after new events were
	 * journaled, to wake the workers; may be NULL. */
	void (*on_journaled)(void *ud);
	void *on_journaled_ud;
};

CMH_MUST_CHECK enum cmh_err cmh_receiver_new(const struct cmh_receiver_deps *deps,
	struct cmh_receiver **ret);
/*
 * Refuse new deliveries (503), answer those waiting for the key thread with
 * 503 and stop it. Deliveries already handed to the journal are answered by
 * its committer, which still calls into the receiver: free the receiver only
 * after cmh_journal_shutdown() and after the HTTP server has stopped.
 */
void cmh_receiver_stop(struct cmh_receiver *r);
/* Stop (if not done yet) and free. NULL allowed. */
void cmh_receiver_free(struct cmh_receiver *r);

/* Handle one POST to WEBHOOK_PATH; answers x now or later. */
void cmh_receiver_post(struct cmh_receiver *r, struct cmh_http_exchange *x);

/* From now on deliveries are answered 503 (shutting down; Adobe retries). */
void cmh_receiver_stop_accepting(struct cmh_receiver *r);

#endif

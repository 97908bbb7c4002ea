/*
 * The durable event journal: every authenticated event is recorded here
 * before the webhook is acknowledged (DESIGN invariant 1), and the workers
 * take their work from it. The interface is backend-neutral; journal_sqlite.c
 * implements it on SQLite (WAL, synchronous=FULL), a PostgreSQL backend can
 * implement the same functions later (claiming with FOR UPDATE SKIP LOCKED).
 *
 * Appends use group commit: concurrent callers enqueue a request and wait;
 * one committer thread writes every waiting request in one transaction, so
 * one fsync acknowledges many events.
 *
 * Event states: pending -> processing -> done | failed, back to pending with
 * a later next_attempt_at on a transient failure, ignored for events nobody
 * wants. Each (event, channel) pair has its own delivery row (pending, done,
 * failed) so one bad channel neither blocks nor repeats the others.
 *
 * Threads: every function may be called from any thread, except that
 * cmh_journal_shutdown() and cmh_journal_close() belong to the owner and
 * must not run concurrently with themselves; close must not overlap any
 * other call on the same handle. Timestamps are milliseconds since the epoch.
 */
#ifndef CMH_JOURNAL_H
#define CMH_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cmh_buf;
struct cmh_journal;

/* Limits (everything is bounded). */
#define CMH_JOURNAL_QUEUE_MAX       1024          /* append requests waiting for the committer */
#define CMH_JOURNAL_APPEND_MAX      1024          /* entries in one cmh_journal_append() call */
#define CMH_JOURNAL_MAX_ID          512           /* bytes of an event id or channel name */
#define CMH_JOURNAL_MAX_TEXT        8192          /* bytes of urn, url, published, key, reason */
#define CMH_JOURNAL_MAX_BODY        (16 * 1024 * 1024) /* bytes of one stored body */
#define CMH_JOURNAL_LIST_MAX        100000        /* rows one cmh_journal_list() may return */
#define CMH_JOURNAL_CLAIM_MAX       1000          /* events one cmh_journal_claim() may take */
#define CMH_JOURNAL_BUSY_TIMEOUT_MS 5000          /* wait for another writer's lock */
#define CMH_JOURNAL_PRUNE_MAX       10000         /* events one cmh_journal_prune() may delete */

enum cmh_journal_status {
	CMH_JOURNAL_PENDING = 0,
	CMH_JOURNAL_PROCESSING,
	CMH_JOURNAL_DONE,
	CMH_JOURNAL_FAILED,
	CMH_JOURNAL_IGNORED,
	CMH_JOURNAL_STATUS_COUNT,
};

/* "pending", "processing", "done", "failed", "ignored"; NULL if out of range. */
const char *cmh_journal_status_name(enum cmh_journal_status s);
/* Exact, case-sensitive inverse of cmh_journal_status_name(); CMH_ERR_PARSE otherwise. */
CMH_MUST_CHECK enum cmh_err cmh_journal_status_parse(const char *s, enum cmh_journal_status *ret);

/*
 * One event to append; every pointer is borrowed for the duration of the
 * call. event_id, kind and status are required; the other strings may be
 * NULL. kind is one of started, ended, step-started, waiting, step-ended,
 * other; status is "pending" or "ignored". body is the raw HTTP request body
 * as received (the signed bytes; for a batch delivery every event of the
 * batch carries the whole body). execution_key ("program/pipeline/execution")
 * groups the events of one execution for ordering.
 */
struct cmh_journal_entry {
	const char *event_id;
	int64_t received_at_ms;
	const char *kind;
	const char *event_urn;
	const char *object_url;
	const char *published;
	const char *execution_key;
	const void *body;
	size_t body_len;
	const char *status;
};

/* Counters since open, for /metrics and tests. */
struct cmh_journal_stats {
	uint64_t commits;          /* successful group-commit transactions */
	uint64_t commit_failures;  /* failed ones (each failed all of its requests) */
	uint64_t requests;         /* append calls acknowledged */
	uint64_t inserted;         /* entries stored as new rows */
	uint64_t duplicates;       /* entries whose event_id was already journaled */
	uint64_t rejected;         /* append calls refused because the queue was full */
	size_t queued;             /* requests waiting right now */
};

/*
 * Open (creating if needed) the journal at path for the daemon: applies
 * schema migrations, starts the committer thread (with all signals blocked).
 * The directory must exist. On error *ret is untouched and errmsg (may be
 * NULL) says why: CMH_ERR_IO (cannot open/create, not a database),
 * CMH_ERR_CONFIG (schema newer than this program), CMH_ERR_NOMEM.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_open(const char *path, struct cmh_journal **ret,
	struct cmh_buf *errmsg);

/*
 * Open an existing journal for a short CLI command (events, replay) that may
 * run while `serve` uses the same file: no committer thread, the file is not
 * created (CMH_ERR_NOT_FOUND if missing), nothing is locked unless the
 * command writes. Appends on such a handle commit synchronously.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_open_client(const char *path, struct cmh_journal **ret,
	struct cmh_buf *errmsg);

/*
 * Stop accepting appends (they fail with CMH_ERR_UNAVAILABLE), commit every
 * request already queued and wait for the committer to exit. Idempotent;
 * NULL allowed. The reads and state changes keep working until close.
 */
void cmh_journal_shutdown(struct cmh_journal *j);

/*
 * Shut down, wait for appenders still returning, checkpoint the WAL (daemon
 * handle only) and free everything. NULL allowed.
 */
void cmh_journal_close(struct cmh_journal *j);

/*
 * Durably journal n entries (0 < n <= CMH_JOURNAL_APPEND_MAX; n == 0 does
 * nothing). Returns only after the transaction holding them has committed
 * (synchronous=FULL: survives power loss). ret_inserted (n entries, may be
 * NULL) is set on success only: true = new row, false = duplicate event_id
 * (already journaled, or earlier in the same batch). On error nothing of
 * this call counts as acknowledged (rows may still exist; a retried delivery
 * dedupes): CMH_ERR_UNAVAILABLE (queue full, shutting down, commit failed),
 * CMH_ERR_PARSE / CMH_ERR_TOO_LARGE (an invalid entry; nothing is queued).
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_append(struct cmh_journal *j,
	const struct cmh_journal_entry *entries, size_t n, bool *ret_inserted);

/*
 * Called once when an asynchronous append has been committed (err CMH_OK,
 * inserted[i] as for cmh_journal_append) or has failed (err
 * CMH_ERR_UNAVAILABLE, inserted NULL). Runs on the committer thread: it must
 * be quick and must not call into the journal.
 */
typedef void (*cmh_journal_done_fn)(enum cmh_err err, const bool *inserted, size_t n, void *ud);

/*
 * Like cmh_journal_append() but without waiting: the entries (and all they
 * point to) must stay valid until done runs. Returns CMH_OK when queued (done
 * will be called exactly once, also during shutdown, which drains the
 * queue), or an error without ever calling done: CMH_ERR_UNAVAILABLE (queue
 * full, shutting down), CMH_ERR_PARSE / CMH_ERR_TOO_LARGE (invalid entry),
 * CMH_ERR_USAGE (n == 0 or no callback), CMH_ERR_NOMEM. This is what lets the
 * HTTP server suspend a request instead of blocking a thread on the commit.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_append_async(struct cmh_journal *j,
	const struct cmh_journal_entry *entries, size_t n, cmh_journal_done_fn done, void *ud);

/* A listed event; pointers valid only during the callback. */
struct cmh_journal_row {
	const char *event_id;
	int64_t received_at_ms;
	const char *kind;
	enum cmh_journal_status status;
	unsigned attempts;
	const char *last_error;      /* NULL if none */
	const char *object_url;      /* NULL if none */
	const char *event_urn;       /* NULL if none */
	int64_t next_attempt_at_ms;
	/* Per-channel state as a JSON array of {"channel", "status", "attempts",
	 * "last_error"} objects ("[]" before the first attempt); NULL if unknown. */
	const char *deliveries_json;
};

/* Return non-zero to stop; that value is returned by cmh_journal_list(). */
typedef enum cmh_err (*cmh_journal_row_fn)(const struct cmh_journal_row *row, void *ud);

/*
 * Call fn for at most limit (1..CMH_JOURNAL_LIST_MAX) events, newest
 * received first (ties: newest appended first), only those with status
 * status_or_null when given. CMH_ERR_USAGE for a bad limit or status name.
 * fn runs with the journal's connection lock held: it must not call into
 * the journal.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_list(struct cmh_journal *j, const char *status_or_null,
	unsigned limit, cmh_journal_row_fn fn, void *ud);

/*
 * Put events back to pending: attempts = 0, next_attempt_at = now, and
 * their failed delivery rows likewise (done deliveries stay done, so a
 * replay re-sends only where it had failed). last_error is kept, so the
 * listing still shows why until the next attempt overwrites it. Events in
 * processing are left alone (a worker owns them) and not counted as changed.
 * One transaction. ret_changed (may be NULL) = events changed; ret_found (n
 * entries, may be NULL) tells which ids exist, so a caller can report "no
 * such event". Out-params are set on success only.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_replay_ids(struct cmh_journal *j,
	const char *const *ids, size_t n, size_t *ret_changed, bool *ret_found);

/* Replay every failed event (as above); ret_changed may be NULL. */
CMH_MUST_CHECK enum cmh_err cmh_journal_replay_failed(struct cmh_journal *j, size_t *ret_changed);

/* Events per status, for /metrics. */
CMH_MUST_CHECK enum cmh_err cmh_journal_counts(struct cmh_journal *j,
	uint64_t ret_counts[CMH_JOURNAL_STATUS_COUNT]);

/* Counters; never fails. */
void cmh_journal_stats(struct cmh_journal *j, struct cmh_journal_stats *ret);

/*
 * Retention: delete up to limit (1..CMH_JOURNAL_PRUNE_MAX) events that are
 * finished (done, failed, ignored) and were received before older_than_ms,
 * with their delivery rows; pending and processing events are never
 * deleted. Small batches keep the write lock short; call again while
 * *ret_deleted == limit. ret_deleted may be NULL.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_prune(struct cmh_journal *j, int64_t older_than_ms,
	unsigned limit, size_t *ret_deleted);

/*
 * Crash recovery, once at start-up before the workers run: every event left
 * in processing goes back to pending (its attempt never finished, so
 * attempts is unchanged). ret_count (may be NULL) = rows recovered.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_recover(struct cmh_journal *j, size_t *ret_count);

/*
 * Readiness probe for /readyz: CMH_OK if appends can be committed now, else
 * CMH_ERR_UNAVAILABLE. Shutting down is never ready. Normally the write lock
 * is taken and released at once (nothing written); after a failed group
 * commit a small real write is made instead, and its success clears the
 * failure, so readiness recovers when the disk does. May wait up to
 * CMH_JOURNAL_BUSY_TIMEOUT_MS while another process holds the write lock.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_check_writable(struct cmh_journal *j);

/* ---- For the workers ---- */

/* A claimed event, owned by the caller; free with cmh_journal_events_free(). */
struct cmh_journal_event {
	char *event_id;
	int64_t received_at_ms;
	char *kind;
	char *event_urn;        /* NULL if none */
	char *object_url;       /* NULL if none */
	char *published;        /* NULL if none */
	char *execution_key;    /* NULL if none */
	unsigned char *body;    /* body_len bytes plus a NUL */
	size_t body_len;
	unsigned attempts;      /* finished attempts so far */
	char *last_error;       /* NULL if none */
};

void cmh_journal_events_free(struct cmh_journal_event *events, size_t n);

/*
 * Atomically move up to limit (1..CMH_JOURNAL_CLAIM_MAX) due events
 * (pending, next_attempt_at <= now_ms) to processing and return them oldest
 * received first. An event is not due while an earlier-received event of
 * the same execution_key is still pending or processing: the events of one
 * execution are handled in the order they arrived (a retried earlier event
 * holds back the later ones of its execution only). *ret_events is NULL
 * when none are due. Two claimers never get the same event.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_claim(struct cmh_journal *j, int64_t now_ms,
	unsigned limit, struct cmh_journal_event **ret_events, size_t *ret_n);

/*
 * End an attempt on a claimed (processing) event: attempts += 1, last_error
 * = reason (NULL clears it). to is CMH_JOURNAL_DONE, CMH_JOURNAL_FAILED,
 * CMH_JOURNAL_IGNORED, or CMH_JOURNAL_PENDING = retry at next_attempt_at_ms
 * (ignored for the other states). CMH_ERR_NOT_FOUND if the event does not
 * exist or is not processing; CMH_ERR_USAGE for to == PROCESSING.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_finish(struct cmh_journal *j, const char *event_id,
	enum cmh_journal_status to, int64_t next_attempt_at_ms, const char *reason);

/* Per-channel delivery state of one event. */
struct cmh_journal_delivery {
	enum cmh_journal_status status;   /* PENDING, DONE or FAILED */
	unsigned attempts;
	int64_t next_attempt_at_ms;
};

/*
 * Get the delivery row of (event_id, channel), creating it as pending, due
 * at now_ms, if absent. CMH_ERR_NOT_FOUND if the event does not exist,
 * CMH_ERR_USAGE for an empty or over-long (CMH_JOURNAL_MAX_ID) id or channel.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_delivery_get(struct cmh_journal *j, const char *event_id,
	const char *channel, int64_t now_ms, struct cmh_journal_delivery *ret);

/*
 * Record a delivery attempt: attempts += 1, last_error = reason (NULL
 * clears); to is DONE, FAILED or PENDING (retry at next_attempt_at_ms).
 * CMH_ERR_NOT_FOUND if the row does not exist; CMH_ERR_USAGE for other to.
 */
CMH_MUST_CHECK enum cmh_err cmh_journal_delivery_finish(struct cmh_journal *j,
	const char *event_id, const char *channel, enum cmh_journal_status to,
	int64_t next_attempt_at_ms, const char *reason);

#endif

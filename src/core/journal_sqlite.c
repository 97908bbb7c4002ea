/*
 * The journal on SQLite, the only file that includes <sqlite3.h>. It owns the
 * schema and its migrations, the committer thread with its bounded request
 * queue (group commit), and the mapping of SQLite result codes to cmh_err.
 * The daemon handle has two connections: the committer's, used for appends
 * only, and an "ops" connection behind a mutex for everything else (reads,
 * replay, claims: rare and short). WAL lets readers run during commits and
 * busy_timeout serialises writers, including CLI processes on the same file.
 */
#include "journal.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "log.h"

/*
 * Schema migrations, applied in order in one transaction at open; entry i
 * takes the database from user_version i to i + 1. To add version 2, append
 * a string: never edit a shipped entry.
 *
 * Bodies are stored per event, even when one batch delivery carried several
 * events: bodies are small and bounded, and a row that holds everything it
 * needs keeps claims, replays and deletions free of reference counting.
 */
static const char *const migrations[] = {
	/* 1: events and per-channel deliveries */
	"CREATE TABLE events ("
	"  event_id        TEXT PRIMARY KEY NOT NULL,"
	"  received_at     INTEGER NOT NULL,"
	"  kind            TEXT NOT NULL CHECK (kind IN ('started', 'ended',"
	"                    'step-started', 'waiting', 'step-ended', 'other')),"
	"  event_urn       TEXT,"
	"  object_url      TEXT,"
	"  published       TEXT,"
	"  execution_key   TEXT,"
	"  body            BLOB NOT NULL,"
	"  status          TEXT NOT NULL CHECK (status IN ('pending', 'processing',"
	"                    'done', 'failed', 'ignored')),"
	"  attempts        INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  last_error      TEXT,"
	"  updated_at      INTEGER NOT NULL"
	");"
	/* Due work: status = 'pending' AND next_attempt_at <= now; also counts. */
	"CREATE INDEX events_due ON events(status, next_attempt_at);"
	/* Listing newest first, all or one status. */
	"CREATE INDEX events_recent ON events(received_at);"
	"CREATE INDEX events_status_recent ON events(status, received_at);"
	/* The URN is what Adobe's Journaling API also carries: dedupe for a backfill. */
	"CREATE INDEX events_urn ON events(event_urn) WHERE event_urn IS NOT NULL;"
	"CREATE TABLE deliveries ("
	"  event_id        TEXT NOT NULL REFERENCES events(event_id) ON DELETE CASCADE,"
	"  channel         TEXT NOT NULL,"
	"  status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),"
	"  attempts        INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  last_error      TEXT,"
	"  updated_at      INTEGER NOT NULL,"
	"  PRIMARY KEY (event_id, channel)"
	") WITHOUT ROWID;"
	"CREATE INDEX deliveries_status ON deliveries(status);",
	/* 2: per-execution ordering: find an execution's unfinished earlier events */
	"CREATE INDEX events_execution ON events(execution_key, status)"
	"  WHERE execution_key IS NOT NULL;",
	/* 3: one index fewer per insert (each costs page writes on the ack
	 * path); the URN index returns with the Journaling API backfill. */
	"DROP INDEX events_urn;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const status_names[CMH_JOURNAL_STATUS_COUNT] = {
	[CMH_JOURNAL_PENDING] = "pending",
	[CMH_JOURNAL_PROCESSING] = "processing",
	[CMH_JOURNAL_DONE] = "done",
	[CMH_JOURNAL_FAILED] = "failed",
	[CMH_JOURNAL_IGNORED] = "ignored",
};

static const char *const kind_names[] = {
	"started", "ended", "step-started", "waiting", "step-ended", "other",
};

/*
 * One append call waiting for the committer: on the caller's stack for
 * cmh_journal_append(), on the heap (freed after `done_fn` ran) for
 * cmh_journal_append_async().
 */
struct request {
	const struct cmh_journal_entry *entries;
	size_t n;
	bool inserted[CMH_JOURNAL_APPEND_MAX];
	enum cmh_err err;
	bool done;
	cmh_journal_done_fn done_fn;
	void *done_ud;
	struct request *next;
};

struct cmh_journal {
	/* Committer side; wdb and ins are touched only by the committer thread. */
	sqlite3 *wdb;
	sqlite3_stmt *ins;
	pthread_t committer;
	bool has_committer;

	/* Everything else: ops connection under ops_lock. */
	pthread_mutex_t ops_lock;
	sqlite3 *db;

	/* Queue and state under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cv_work;   /* committer: requests queued or stopping */
	pthread_cond_t cv_done;   /* appenders: their request is done; close: inflight hit 0 */
	struct request *head, *tail;
	unsigned inflight;        /* append calls inside the wait */
	bool stopping;
	bool joined;
	bool last_commit_failed;
	struct cmh_journal_stats stats;
};

static void lock(pthread_mutex_t *m)
{
	if (pthread_mutex_lock(m))
		CMH_BUG("pthread_mutex_lock");
}

static void unlock(pthread_mutex_t *m)
{
	if (pthread_mutex_unlock(m))
		CMH_BUG("pthread_mutex_unlock");
}

static void cond_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
	if (pthread_cond_wait(cv, m))
		CMH_BUG("pthread_cond_wait");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		CMH_BUG("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cmh_journal_status_name(enum cmh_journal_status s)
{
	if ((unsigned)s >= CMH_JOURNAL_STATUS_COUNT)
		return NULL;
	return status_names[s];
}

enum cmh_err cmh_journal_status_parse(const char *s, enum cmh_journal_status *ret)
{
	for (int i = 0; s && i < CMH_JOURNAL_STATUS_COUNT; i++) {
		if (!strcmp(s, status_names[i])) {
			*ret = (enum cmh_journal_status)i;
			return CMH_OK;
		}
	}
	return CMH_ERR_PARSE;
}

/* ---- SQLite helpers ---- */

static enum cmh_err map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return CMH_OK;
	case SQLITE_NOMEM:
		return CMH_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return CMH_ERR_UNAVAILABLE;
	case SQLITE_TOOBIG:
		return CMH_ERR_TOO_LARGE;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_NOLFS:
	case SQLITE_PROTOCOL:
		return CMH_ERR_IO;
	default:
		return CMH_ERR_INTERNAL;
	}
}

/*
 * Map rc; SQLite's message goes into errmsg (may be NULL), the message and
 * what failed (a step name or the SQL) into the debug log.
 */
static enum cmh_err sql_fail(sqlite3 *db, int rc, const char *what, struct cmh_buf *errmsg)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	cmh_errf(errmsg, "%s", msg);
	cmh_log(CMH_LOG_DEBUG, "journal", "sqlite call failed", "what=%s rc=%d sqlite=%s",
		what, rc, cmh_q(msg));
	return map_rc(rc);
}

static enum cmh_err exec(sqlite3 *db, const char *sql, struct cmh_buf *errmsg)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(db, rc, sql, errmsg);
	return CMH_OK;
}

static enum cmh_err prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret,
			    struct cmh_buf *errmsg)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(db, rc, sql, errmsg);
	return CMH_OK;
}

/* Step a statement that returns no rows (or whose rows we do not want). */
static enum cmh_err step_done(sqlite3 *db, sqlite3_stmt *st, const char *what,
			     struct cmh_buf *errmsg)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		return sql_fail(db, rc, what, errmsg);
	return CMH_OK;
}

/* Roll back if a transaction is still open; the original error wins. */
static void rollback_if_open(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		(void)!exec(db, "ROLLBACK", NULL);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (!s)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, (int)strnlen(s, CMH_JOURNAL_MAX_TEXT), SQLITE_STATIC);
}

static char *column_strdup(sqlite3_stmt *st, int i, bool *ret_oom)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	char *p;

	if (!s)
		return NULL;
	p = strdup((const char *)s);
	if (!p)
		*ret_oom = true;
	return p;
}

static unsigned column_uint(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	if (v < 0)
		return 0;
	return v > (sqlite3_int64)UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

/* ---- Opening: connection settings and migrations ---- */

static enum cmh_err connect_db(const char *path, bool create, sqlite3 **ret,
			       struct cmh_buf *errmsg)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (create ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;
	enum cmh_err err;
	int rc;

	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = sql_fail(db, rc, "open", errmsg);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	rc = sqlite3_busy_timeout(db, CMH_JOURNAL_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		err = sql_fail(db, rc, "busy_timeout", errmsg);
		goto out;
	}
	/*
	 * synchronous=FULL: in WAL mode NORMAL may lose the last commits on power
	 * loss, and we acknowledge webhooks as soon as COMMIT returns.
	 */
	err = exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", errmsg);
	if (err)
		goto out;
	*ret = db;
	db = NULL;
out:
	sqlite3_close(db);
	return err;
}

/* WAL is a property of the file; setting it again is a no-op. */
static enum cmh_err set_wal(sqlite3 *db, struct cmh_buf *errmsg)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	enum cmh_err err;
	int rc;

	err = prepare(db, "PRAGMA journal_mode = WAL", &st, errmsg);
	if (err)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = sql_fail(db, rc, "journal_mode", errmsg);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal")) {
		cmh_errf(errmsg, "cannot switch to WAL mode (got %s)", mode ? mode : "nothing");
		err = CMH_ERR_IO;
	}
out:
	sqlite3_finalize(st);
	return err;
}

static enum cmh_err read_version(sqlite3 *db, int *ret, struct cmh_buf *errmsg)
{
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	int rc;

	err = prepare(db, "PRAGMA user_version", &st, errmsg);
	if (err)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = sql_fail(db, rc, "user_version", errmsg);
		goto out;
	}
	*ret = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return err;
}

static enum cmh_err apply_migrations(sqlite3 *db, int from, struct cmh_buf *errmsg)
{
	char sql[64];
	enum cmh_err err = CMH_OK;

	for (int v = from; v < SCHEMA_VERSION && !err; v++)
		err = exec(db, migrations[v], errmsg);
	if (err)
		return err;
	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	return exec(db, sql, errmsg);
}

/*
 * Bring the schema to SCHEMA_VERSION. The cheap read first means a CLI
 * `events` on an up-to-date file never takes the write lock; the version is
 * read again inside the transaction because another process may have
 * migrated in between.
 */
static enum cmh_err migrate(sqlite3 *db, struct cmh_buf *errmsg)
{
	enum cmh_err err;
	int v;

	err = read_version(db, &v, errmsg);
	if (err || v == SCHEMA_VERSION)
		goto check;
	err = exec(db, "BEGIN IMMEDIATE", errmsg);
	if (err)
		return err;
	err = read_version(db, &v, errmsg);
	if (!err && v < SCHEMA_VERSION)
		err = apply_migrations(db, v, errmsg);
	if (!err && v <= SCHEMA_VERSION)
		err = exec(db, "COMMIT", errmsg);
	rollback_if_open(db);
check:
	if (!err && v > SCHEMA_VERSION) {
		cmh_errf(errmsg, "schema version %d is newer than this cmhook's (%d)",
			 v, SCHEMA_VERSION);
		err = CMH_ERR_CONFIG;
	}
	return err;
}

/* ---- Group commit ---- */

static enum cmh_err bind_entry(sqlite3_stmt *st, const struct cmh_journal_entry *e, int64_t now)
{
	int rc = SQLITE_OK;

	sqlite3_reset(st);
	rc |= bind_text(st, 1, e->event_id);
	rc |= sqlite3_bind_int64(st, 2, e->received_at_ms);
	rc |= bind_text(st, 3, e->kind);
	rc |= bind_text(st, 4, e->event_urn);
	rc |= bind_text(st, 5, e->object_url);
	rc |= bind_text(st, 6, e->published);
	rc |= bind_text(st, 7, e->execution_key);
	if (e->body_len)
		rc |= sqlite3_bind_blob(st, 8, e->body, (int)e->body_len, SQLITE_STATIC);
	else
		rc |= sqlite3_bind_zeroblob(st, 8, 0);
	rc |= bind_text(st, 9, e->status);
	rc |= sqlite3_bind_int64(st, 10, now);
	return rc == SQLITE_OK ? CMH_OK : CMH_ERR_INTERNAL;
}

#define INSERT_SQL \
	"INSERT INTO events (event_id, received_at, kind, event_urn, object_url," \
	" published, execution_key, body, status, attempts, next_attempt_at, updated_at)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?2, ?10)" \
	" ON CONFLICT (event_id) DO NOTHING"

/*
 * Write every request of the batch in one transaction. Any failure fails
 * the whole batch: the transaction is rolled back and every caller answers
 * 503, after which Adobe redelivers and the dedupe key absorbs repeats.
 */
static enum cmh_err commit_batch(sqlite3 *db, sqlite3_stmt *ins, struct request *batch,
				 struct cmh_buf *errmsg)
{
	int64_t now = now_ms();
	enum cmh_err err;

	err = exec(db, "BEGIN IMMEDIATE", errmsg);
	if (err)
		return err;
	for (struct request *r = batch; r && !err; r = r->next) {
		for (size_t i = 0; i < r->n && !err; i++) {
			err = bind_entry(ins, &r->entries[i], now);
			if (!err)
				err = step_done(db, ins, "insert", errmsg);
			r->inserted[i] = sqlite3_changes(db) > 0;
		}
	}
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	if (!err)
		err = exec(db, "COMMIT", errmsg);
	rollback_if_open(db);
	return err;
}

static void account(struct cmh_journal *j, struct request *batch, enum cmh_err err)
{
	if (err) {
		j->stats.commit_failures++;
		j->last_commit_failed = true;
		return;
	}
	j->stats.commits++;
	j->last_commit_failed = false;
	for (struct request *r = batch; r; r = r->next) {
		j->stats.requests++;
		for (size_t i = 0; i < r->n; i++) {
			if (r->inserted[i])
				j->stats.inserted++;
			else
				j->stats.duplicates++;
		}
	}
}

static size_t batch_len(const struct request *batch)
{
	size_t n = 0;

	for (; batch; batch = batch->next)
		n++;
	return n;
}

/* The committer takes ALL waiting requests each round; it drains the queue before exiting. */
static void *committer_main(void *arg)
{
	struct cmh_journal *j = arg;
	struct cmh_buf errmsg;

	cmh_buf_init(&errmsg, CMH_BUF_MAX_ERRMSG);
	lock(&j->lock);
	for (;;) {
		struct request *batch, *next;
		enum cmh_err err;

		while (!j->head && !j->stopping)
			cond_wait(&j->cv_work, &j->lock);
		if (!j->head)
			break;
		batch = j->head;
		j->head = j->tail = NULL;
		j->stats.queued = 0;
		unlock(&j->lock);

		err = commit_batch(j->wdb, j->ins, batch, &errmsg);
		if (err)
			cmh_log(CMH_LOG_WARN, "journal", "group commit failed, answering 503",
				"requests=%zu err=%s detail=%s", batch_len(batch),
				cmh_q(cmh_strerror(err)), cmh_q(errmsg.data));

		lock(&j->lock);
		account(j, batch, err);
		struct request *async = NULL;
		for (struct request *r = batch; r; r = next) {
			next = r->next;
			r->err = err ? CMH_ERR_UNAVAILABLE : CMH_OK;
			if (r->done_fn) {
				r->next = async;
				async = r;
			} else {
				r->done = true;
			}
		}
		if (pthread_cond_broadcast(&j->cv_done))
			CMH_BUG("pthread_cond_broadcast");
		unlock(&j->lock);
		/* Callbacks run without the lock: they answer HTTP requests. */
		for (struct request *r = async; r; r = next) {
			next = r->next;
			r->done_fn(r->err, r->err ? NULL : r->inserted, r->n, r->done_ud);
			free(r);
		}
		lock(&j->lock);
	}
	unlock(&j->lock);
	cmh_buf_release(&errmsg);
	return NULL;
}

static bool is_kind(const char *s)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(s, kind_names[i]))
			return true;
	return false;
}

static bool text_ok(const char *s)
{
	return !s || strnlen(s, CMH_JOURNAL_MAX_TEXT + 1) <= CMH_JOURNAL_MAX_TEXT;
}

/* Reject bad entries before queueing, so one caller's mistake cannot fail a whole batch. */
static enum cmh_err validate_entry(const struct cmh_journal_entry *e)
{
	size_t idlen;

	if (!e->event_id || !e->kind || !e->status)
		return CMH_ERR_PARSE;
	idlen = strnlen(e->event_id, CMH_JOURNAL_MAX_ID + 1);
	if (idlen == 0)
		return CMH_ERR_PARSE;
	if (idlen > CMH_JOURNAL_MAX_ID || e->body_len > CMH_JOURNAL_MAX_BODY)
		return CMH_ERR_TOO_LARGE;
	if (!is_kind(e->kind) || (strcmp(e->status, "pending") && strcmp(e->status, "ignored")))
		return CMH_ERR_PARSE;
	if (e->body_len && !e->body)
		return CMH_ERR_PARSE;
	if (!text_ok(e->event_urn) || !text_ok(e->object_url) || !text_ok(e->published) ||
	    !text_ok(e->execution_key))
		return CMH_ERR_TOO_LARGE;
	return CMH_OK;
}

/* Client handles have no committer: commit on the ops connection, now. */
static enum cmh_err append_direct(struct cmh_journal *j, struct request *req)
{
	sqlite3_stmt *ins = NULL;
	enum cmh_err err;
	bool stopping;

	lock(&j->lock);
	stopping = j->stopping;
	unlock(&j->lock);
	if (stopping)
		return CMH_ERR_UNAVAILABLE;
	lock(&j->ops_lock);
	err = prepare(j->db, INSERT_SQL, &ins, NULL);
	if (!err)
		err = commit_batch(j->db, ins, req, NULL);
	sqlite3_finalize(ins);
	unlock(&j->ops_lock);
	lock(&j->lock);
	account(j, req, err);
	unlock(&j->lock);
	return err ? CMH_ERR_UNAVAILABLE : CMH_OK;
}

static enum cmh_err append_queued(struct cmh_journal *j, struct request *req)
{
	enum cmh_err err;

	lock(&j->lock);
	if (j->stopping) {
		err = CMH_ERR_UNAVAILABLE;
		goto out;
	}
	if (j->stats.queued >= CMH_JOURNAL_QUEUE_MAX) {
		j->stats.rejected++;
		err = CMH_ERR_UNAVAILABLE;
		goto out;
	}
	if (j->tail)
		j->tail->next = req;
	else
		j->head = req;
	j->tail = req;
	j->stats.queued++;
	j->inflight++;
	if (pthread_cond_signal(&j->cv_work))
		CMH_BUG("pthread_cond_signal");
	while (!req->done)
		cond_wait(&j->cv_done, &j->lock);
	j->inflight--;
	/* close() may be waiting for the last appender to leave. */
	if (j->stopping && !j->inflight && pthread_cond_broadcast(&j->cv_done))
		CMH_BUG("pthread_cond_broadcast");
	err = req->err;
out:
	unlock(&j->lock);
	return err;
}

static enum cmh_err validate_entries(const struct cmh_journal_entry *entries, size_t n)
{
	enum cmh_err err;

	if (n > CMH_JOURNAL_APPEND_MAX)
		return CMH_ERR_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		err = validate_entry(&entries[i]);
		if (err)
			return err;
	}
	return CMH_OK;
}

/* Queue without waiting; the committer calls req->done_fn and frees req. */
static enum cmh_err enqueue_async(struct cmh_journal *j, struct request *req)
{
	enum cmh_err err = CMH_OK;

	lock(&j->lock);
	if (j->stopping) {
		err = CMH_ERR_UNAVAILABLE;
	} else if (j->stats.queued >= CMH_JOURNAL_QUEUE_MAX) {
		j->stats.rejected++;
		err = CMH_ERR_UNAVAILABLE;
	} else {
		if (j->tail)
			j->tail->next = req;
		else
			j->head = req;
		j->tail = req;
		j->stats.queued++;
		if (pthread_cond_signal(&j->cv_work))
			CMH_BUG("pthread_cond_signal");
	}
	unlock(&j->lock);
	return err;
}

enum cmh_err cmh_journal_append_async(struct cmh_journal *j,
				      const struct cmh_journal_entry *entries, size_t n,
				      cmh_journal_done_fn done, void *ud)
{
	struct request *req;
	enum cmh_err err;

	if (n == 0 || !done)
		return CMH_ERR_USAGE;
	err = validate_entries(entries, n);
	if (err)
		return err;
	req = calloc(1, sizeof(*req));
	if (!req)
		return CMH_ERR_NOMEM;
	req->entries = entries;
	req->n = n;
	req->done_fn = done;
	req->done_ud = ud;
	if (!j->has_committer) {
		err = append_direct(j, req);
		done(err, err ? NULL : req->inserted, n, ud);
		free(req);
		return CMH_OK;
	}
	err = enqueue_async(j, req);
	if (err)
		free(req);
	return err;
}

enum cmh_err cmh_journal_append(struct cmh_journal *j, const struct cmh_journal_entry *entries,
				size_t n, bool *ret_inserted)
{
	struct request req = { .entries = entries, .n = n };
	enum cmh_err err;

	if (n == 0)
		return CMH_OK;
	err = validate_entries(entries, n);
	if (err)
		return err;
	err = j->has_committer ? append_queued(j, &req) : append_direct(j, &req);
	if (!err && ret_inserted)
		memcpy(ret_inserted, req.inserted, n * sizeof(*ret_inserted));
	return err;
}

/* ---- Open and close ---- */

static struct cmh_journal *journal_new(void)
{
	struct cmh_journal *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	if (pthread_mutex_init(&j->lock, NULL) ||
	    pthread_mutex_init(&j->ops_lock, NULL) || pthread_cond_init(&j->cv_work, NULL) ||
	    pthread_cond_init(&j->cv_done, NULL))
		CMH_BUG("journal_new: pthread init");
	return j;
}

/* Threads we start must not take the signals main() waits for. */
static enum cmh_err start_committer(struct cmh_journal *j, struct cmh_buf *errmsg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old))
		CMH_BUG("pthread_sigmask");
	rc = pthread_create(&j->committer, NULL, committer_main, j);
	if (pthread_sigmask(SIG_SETMASK, &old, NULL))
		CMH_BUG("pthread_sigmask");
	if (rc) {
		cmh_errf(errmsg, "cannot start the committer thread (error %d)", rc);
		return CMH_ERR_INTERNAL;
	}
	j->has_committer = true;
	return CMH_OK;
}

static enum cmh_err open_common(const char *path, bool daemon, struct cmh_journal **ret,
				struct cmh_buf *errmsg)
{
	struct cmh_buf detail;
	struct cmh_journal *j;
	enum cmh_err err;

	if (!path || !*path) {
		cmh_errf(errmsg, "journal: empty path");
		return CMH_ERR_CONFIG;
	}
	j = journal_new();
	if (!j) {
		cmh_errf(errmsg, "journal: out of memory");
		return CMH_ERR_NOMEM;
	}
	cmh_buf_init(&detail, CMH_BUF_MAX_ERRMSG);
	err = connect_db(path, daemon, &j->db, &detail);
	if (!err)
		err = set_wal(j->db, &detail);
	if (!err)
		err = migrate(j->db, &detail);
	if (err || !daemon)
		goto out;
	err = connect_db(path, false, &j->wdb, &detail);
	if (!err)
		err = prepare(j->wdb, INSERT_SQL, &j->ins, &detail);
	if (!err)
		err = start_committer(j, &detail);
out:
	if (err) {
		cmh_errf(errmsg, "journal %s: %s", path, detail.data);
		cmh_journal_close(j);
	} else {
		*ret = j;
	}
	cmh_buf_release(&detail);
	return err;
}

enum cmh_err cmh_journal_open(const char *path, struct cmh_journal **ret, struct cmh_buf *errmsg)
{
	return open_common(path, true, ret, errmsg);
}

enum cmh_err cmh_journal_open_client(const char *path, struct cmh_journal **ret,
				     struct cmh_buf *errmsg)
{
	enum cmh_err err = open_common(path, false, ret, errmsg);

	/* Without SQLITE_OPEN_CREATE a missing file is CANTOPEN; say what it means. */
	if (err == CMH_ERR_IO && path && access(path, F_OK)) {
		cmh_errf(errmsg, "journal %s does not exist (has `serve` run yet?)", path);
		err = CMH_ERR_NOT_FOUND;
	}
	return err;
}

void cmh_journal_shutdown(struct cmh_journal *j)
{
	bool join;

	if (!j)
		return;
	lock(&j->lock);
	j->stopping = true;
	join = j->has_committer && !j->joined;
	j->joined = true;
	if (pthread_cond_signal(&j->cv_work))
		CMH_BUG("pthread_cond_signal");
	unlock(&j->lock);
	if (join && pthread_join(j->committer, NULL))
		CMH_BUG("pthread_join");
}

static void close_db(sqlite3 *db)
{
	int rc = sqlite3_close(db);

	if (rc != SQLITE_OK)
		cmh_log(CMH_LOG_WARN, "journal", "closing the database failed", "sqlite=%s",
			cmh_q(sqlite3_errstr(rc)));
}

void cmh_journal_close(struct cmh_journal *j)
{
	if (!j)
		return;
	cmh_journal_shutdown(j);
	lock(&j->lock);
	while (j->inflight)
		cond_wait(&j->cv_done, &j->lock);
	unlock(&j->lock);

	sqlite3_finalize(j->ins);
	/* Fold the WAL back so the next start does not replay it; failure is harmless. */
	if (j->wdb && sqlite3_wal_checkpoint_v2(j->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						NULL, NULL) != SQLITE_OK)
		cmh_log(CMH_LOG_DEBUG, "journal", "WAL checkpoint at close failed", "sqlite=%s",
			cmh_q(sqlite3_errmsg(j->wdb)));
	close_db(j->wdb);
	close_db(j->db);
	pthread_cond_destroy(&j->cv_done);
	pthread_cond_destroy(&j->cv_work);
	pthread_mutex_destroy(&j->ops_lock);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

void cmh_journal_stats(struct cmh_journal *j, struct cmh_journal_stats *ret)
{
	lock(&j->lock);
	*ret = j->stats;
	unlock(&j->lock);
}

/*
 * After a failed group commit a real write (page 1, fsynced) decides: only a
 * successful write clears the failure, so readiness neither stays red forever
 * once the disk recovers (Adobe's retries need a ready server) nor turns
 * green while writes still fail. Otherwise taking and dropping the write lock
 * is enough.
 */
static enum cmh_err probe(struct cmh_journal *j, bool write)
{
	char sql[96];
	enum cmh_err err;

	(void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	lock(&j->ops_lock);
	err = exec(j->db, "BEGIN IMMEDIATE", NULL);
	if (!err && write)
		err = exec(j->db, sql, NULL);
	if (!err)
		err = exec(j->db, write ? "COMMIT" : "ROLLBACK", NULL);
	rollback_if_open(j->db);
	unlock(&j->ops_lock);
	return err;
}

enum cmh_err cmh_journal_check_writable(struct cmh_journal *j)
{
	bool stopping, failed;
	uint64_t failures;
	enum cmh_err err;

	lock(&j->lock);
	stopping = j->stopping;
	failed = j->last_commit_failed;
	failures = j->stats.commit_failures;
	unlock(&j->lock);
	if (stopping)
		return CMH_ERR_UNAVAILABLE;
	err = probe(j, failed);
	/* Unless a commit failed again meanwhile. */
	lock(&j->lock);
	if (failed && !err && failures == j->stats.commit_failures)
		j->last_commit_failed = false;
	unlock(&j->lock);
	return err ? CMH_ERR_UNAVAILABLE : CMH_OK;
}

/* ---- Reads ---- */

#define LIST_COLUMNS \
	"SELECT event_id, received_at, kind, status, attempts, last_error, object_url," \
	" event_urn, next_attempt_at," \
	" (SELECT json_group_array(json_object('channel', d.channel, 'status', d.status," \
	"   'attempts', d.attempts, 'last_error', d.last_error))" \
	"  FROM deliveries AS d WHERE d.event_id = events.event_id) FROM events"

static enum cmh_err row_from(sqlite3_stmt *st, struct cmh_journal_row *row)
{
	row->event_id = (const char *)sqlite3_column_text(st, 0);
	row->received_at_ms = sqlite3_column_int64(st, 1);
	row->kind = (const char *)sqlite3_column_text(st, 2);
	row->attempts = column_uint(st, 4);
	row->last_error = (const char *)sqlite3_column_text(st, 5);
	row->object_url = (const char *)sqlite3_column_text(st, 6);
	row->event_urn = (const char *)sqlite3_column_text(st, 7);
	row->next_attempt_at_ms = sqlite3_column_int64(st, 8);
	row->deliveries_json = (const char *)sqlite3_column_text(st, 9);
	if (!row->event_id || !row->kind)
		return CMH_ERR_NOMEM;
	/* The CHECK constraint makes an unknown status a broken database, not input. */
	if (cmh_journal_status_parse((const char *)sqlite3_column_text(st, 3), &row->status))
		return CMH_ERR_IO;
	return CMH_OK;
}

enum cmh_err cmh_journal_list(struct cmh_journal *j, const char *status_or_null,
			      unsigned limit, cmh_journal_row_fn fn, void *ud)
{
	enum cmh_journal_status status;
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	int rc;

	if (limit == 0 || limit > CMH_JOURNAL_LIST_MAX)
		return CMH_ERR_USAGE;
	if (status_or_null && cmh_journal_status_parse(status_or_null, &status))
		return CMH_ERR_USAGE;
	lock(&j->ops_lock);
	err = prepare(j->db, status_or_null ?
		      LIST_COLUMNS " WHERE status = ?1 ORDER BY received_at DESC, rowid DESC LIMIT ?2" :
		      LIST_COLUMNS " ORDER BY received_at DESC, rowid DESC LIMIT ?2", &st, NULL);
	if (err)
		goto out;
	if (status_or_null)
		(void)sqlite3_bind_text(st, 1, status_or_null, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cmh_journal_row row;

		err = row_from(st, &row);
		if (!err)
			err = fn(&row, ud);
		if (err)
			goto out;
	}
	if (rc != SQLITE_DONE)
		err = sql_fail(j->db, rc, "list", NULL);
out:
	sqlite3_finalize(st);
	unlock(&j->ops_lock);
	return err;
}

enum cmh_err cmh_journal_counts(struct cmh_journal *j,
				uint64_t ret_counts[CMH_JOURNAL_STATUS_COUNT])
{
	uint64_t counts[CMH_JOURNAL_STATUS_COUNT] = { 0 };
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	int rc;

	lock(&j->ops_lock);
	err = prepare(j->db, "SELECT status, count(*) FROM events GROUP BY status", &st, NULL);
	if (err)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum cmh_journal_status s;

		if (cmh_journal_status_parse((const char *)sqlite3_column_text(st, 0), &s)) {
			err = CMH_ERR_IO;
			goto out;
		}
		counts[s] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE) {
		err = sql_fail(j->db, rc, "counts", NULL);
		goto out;
	}
	memcpy(ret_counts, counts, sizeof(counts));
out:
	sqlite3_finalize(st);
	unlock(&j->ops_lock);
	return err;
}

/* ---- State changes (ops connection) ---- */

/*
 * Run one UPDATE/INSERT with int64 and text parameters bound in order:
 * "i" binds an int64_t, "s" a const char * (NULL binds NULL). ret_changes may
 * be NULL. Caller holds ops_lock and, for multi-statement work, a transaction.
 */
static enum cmh_err run(struct cmh_journal *j, const char *sql, size_t *ret_changes,
			const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	va_list ap;
	int i = 1;

	err = prepare(j->db, sql, &st, NULL);
	if (err)
		return err;
	va_start(ap, types);
	for (const char *t = types; *t; t++, i++) {
		if (*t == 'i')
			(void)sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		else
			(void)bind_text(st, i, va_arg(ap, const char *));
	}
	va_end(ap);
	err = step_done(j->db, st, sql, NULL);
	if (!err && ret_changes)
		*ret_changes = (size_t)sqlite3_changes(j->db);
	sqlite3_finalize(st);
	return err;
}

static enum cmh_err begin(struct cmh_journal *j)
{
	lock(&j->ops_lock);
	return exec(j->db, "BEGIN IMMEDIATE", NULL);
}

/* Commit if err is CMH_OK, otherwise roll back; releases ops_lock. */
static enum cmh_err end(struct cmh_journal *j, enum cmh_err err)
{
	if (!err)
		err = exec(j->db, "COMMIT", NULL);
	rollback_if_open(j->db);
	unlock(&j->ops_lock);
	return err;
}

static enum cmh_err exists(struct cmh_journal *j, const char *event_id, bool *ret)
{
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	int rc;

	err = prepare(j->db, "SELECT 1 FROM events WHERE event_id = ?1", &st, NULL);
	if (err)
		return err;
	(void)bind_text(st, 1, event_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		*ret = rc == SQLITE_ROW;
	else
		err = sql_fail(j->db, rc, "exists", NULL);
	sqlite3_finalize(st);
	return err;
}

static enum cmh_err replay_one(struct cmh_journal *j, const char *id, int64_t now,
			       size_t *changed, bool *ret_found)
{
	enum cmh_err err;
	size_t n = 0;
	bool found = true;

	err = run(j, "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at = ?1,"
		  " updated_at = ?1 WHERE event_id = ?2 AND status <> 'processing'", &n,
		  "is", now, id);
	if (!err && n == 0)
		err = exists(j, id, &found);
	if (!err && found)
		err = run(j, "UPDATE deliveries SET status = 'pending', attempts = 0,"
			  " next_attempt_at = ?1, updated_at = ?1"
			  " WHERE event_id = ?2 AND status = 'failed'", NULL, "is", now, id);
	*changed += n;
	*ret_found = found;
	return err;
}

enum cmh_err cmh_journal_replay_ids(struct cmh_journal *j, const char *const *ids, size_t n,
				    size_t *ret_changed, bool *ret_found)
{
	int64_t now = now_ms();
	bool *found = NULL;
	size_t changed = 0;
	enum cmh_err err;

	if (n == 0)
		goto done;
	found = calloc(n, sizeof(*found));
	if (!found)
		return CMH_ERR_NOMEM;
	err = begin(j);
	for (size_t i = 0; i < n && !err; i++)
		err = ids[i] ? replay_one(j, ids[i], now, &changed, &found[i]) : CMH_ERR_USAGE;
	err = end(j, err);
	if (err)
		goto out;
	if (ret_found)
		memcpy(ret_found, found, n * sizeof(*found));
done:
	if (ret_changed)
		*ret_changed = changed;
	err = CMH_OK;
out:
	free(found);
	return err;
}

enum cmh_err cmh_journal_replay_failed(struct cmh_journal *j, size_t *ret_changed)
{
	int64_t now = now_ms();
	enum cmh_err err;
	size_t n = 0;

	err = begin(j);
	if (!err)
		err = run(j, "UPDATE deliveries SET status = 'pending', attempts = 0,"
			  " next_attempt_at = ?1, updated_at = ?1 WHERE status = 'failed' AND"
			  " event_id IN (SELECT event_id FROM events WHERE status = 'failed')",
			  NULL, "i", now);
	if (!err)
		err = run(j, "UPDATE events SET status = 'pending', attempts = 0,"
			  " next_attempt_at = ?1, updated_at = ?1 WHERE status = 'failed'",
			  &n, "i", now);
	err = end(j, err);
	if (!err && ret_changed)
		*ret_changed = n;
	return err;
}

enum cmh_err cmh_journal_prune(struct cmh_journal *j, int64_t older_than_ms, unsigned limit,
			       size_t *ret_deleted)
{
	enum cmh_err err;
	size_t n = 0;

	if (limit == 0 || limit > CMH_JOURNAL_PRUNE_MAX)
		return CMH_ERR_USAGE;
	err = begin(j);
	/* Delivery rows go with their event (ON DELETE CASCADE). */
	if (!err)
		err = run(j, "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events"
			  " WHERE status IN ('done', 'failed', 'ignored') AND received_at < ?1"
			  " LIMIT ?2)", &n, "ii", older_than_ms, (int64_t)limit);
	err = end(j, err);
	if (!err && ret_deleted)
		*ret_deleted = n;
	return err;
}

enum cmh_err cmh_journal_recover(struct cmh_journal *j, size_t *ret_count)
{
	enum cmh_err err;
	size_t n = 0;

	err = begin(j);
	if (!err)
		err = run(j, "UPDATE events SET status = 'pending', updated_at = ?1"
			  " WHERE status = 'processing'", &n, "i", now_ms());
	err = end(j, err);
	if (!err && ret_count)
		*ret_count = n;
	return err;
}

/* ---- Worker side ---- */

static void event_release(struct cmh_journal_event *e)
{
	free(e->event_id);
	free(e->kind);
	free(e->event_urn);
	free(e->object_url);
	free(e->published);
	free(e->execution_key);
	free(e->body);
	free(e->last_error);
}

void cmh_journal_events_free(struct cmh_journal_event *events, size_t n)
{
	if (!events)
		return;
	for (size_t i = 0; i < n; i++)
		event_release(&events[i]);
	free(events);
}

/* Columns as in CLAIM_SQL's RETURNING clause, after rowid. */
static enum cmh_err event_from(sqlite3_stmt *st, struct cmh_journal_event *e)
{
	const void *body = sqlite3_column_blob(st, 9);
	int len = sqlite3_column_bytes(st, 9);
	bool oom = false;

	e->event_id = column_strdup(st, 1, &oom);
	e->received_at_ms = sqlite3_column_int64(st, 2);
	e->kind = column_strdup(st, 3, &oom);
	e->event_urn = column_strdup(st, 4, &oom);
	e->object_url = column_strdup(st, 5, &oom);
	e->published = column_strdup(st, 6, &oom);
	e->execution_key = column_strdup(st, 7, &oom);
	e->attempts = column_uint(st, 8);
	e->last_error = column_strdup(st, 10, &oom);
	e->body_len = len > 0 ? (size_t)len : 0;
	e->body = malloc(e->body_len + 1);
	if (!e->body || !e->event_id || !e->kind || oom)
		return CMH_ERR_NOMEM;
	if (e->body_len)
		memcpy(e->body, body, e->body_len);
	e->body[e->body_len] = '\0';
	return CMH_OK;
}

struct claimed {
	struct cmh_journal_event ev;
	int64_t rowid;
};

static int claimed_cmp(const void *a, const void *b)
{
	const struct claimed *x = a, *y = b;

	if (x->ev.received_at_ms != y->ev.received_at_ms)
		return x->ev.received_at_ms < y->ev.received_at_ms ? -1 : 1;
	return (x->rowid > y->rowid) - (x->rowid < y->rowid);
}

/*
 * One UPDATE ... RETURNING inside a write transaction is the atomic claim:
 * no second claimer can see these rows as pending. RETURNING has no order,
 * so the rows are sorted here (received_at, then append order).
 */
#define CLAIM_SQL \
	"UPDATE events SET status = 'processing', updated_at = ?1 WHERE rowid IN" \
	" (SELECT rowid FROM events AS e WHERE status = 'pending' AND next_attempt_at <= ?1" \
	"   AND (execution_key IS NULL OR NOT EXISTS (SELECT 1 FROM events AS p" \
	"     WHERE p.execution_key = e.execution_key AND p.rowid < e.rowid" \
	"       AND p.status IN ('pending', 'processing')))" \
	"  ORDER BY received_at, rowid LIMIT ?2)" \
	" RETURNING rowid, event_id, received_at, kind, event_urn, object_url, published," \
	" execution_key, attempts, body, last_error"

static enum cmh_err claim_rows(struct cmh_journal *j, int64_t now, unsigned limit,
			       struct claimed *c, size_t *ret_n)
{
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	size_t n = 0;
	int rc;

	err = prepare(j->db, CLAIM_SQL, &st, NULL);
	if (err)
		return err;
	(void)sqlite3_bind_int64(st, 1, now);
	(void)sqlite3_bind_int64(st, 2, limit);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == limit)
			CMH_BUG("claim returned more rows than its LIMIT");
		c[n].rowid = sqlite3_column_int64(st, 0);
		err = event_from(st, &c[n].ev);
		n++;
	}
	if (!err && rc != SQLITE_DONE)
		err = sql_fail(j->db, rc, "claim", NULL);
	sqlite3_finalize(st);
	*ret_n = n;
	return err;
}

enum cmh_err cmh_journal_claim(struct cmh_journal *j, int64_t now, unsigned limit,
			       struct cmh_journal_event **ret_events, size_t *ret_n)
{
	struct cmh_journal_event *out = NULL;
	struct claimed *c = NULL;
	enum cmh_err err;
	size_t n = 0;

	if (limit == 0 || limit > CMH_JOURNAL_CLAIM_MAX)
		return CMH_ERR_USAGE;
	/* Allocate first: nothing may fail after the claim has committed. */
	c = calloc(limit, sizeof(*c));
	out = calloc(limit, sizeof(*out));
	if (!c || !out) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	err = begin(j);
	if (!err)
		err = claim_rows(j, now, limit, c, &n);
	err = end(j, err);
	if (err)
		goto out;
	qsort(c, n, sizeof(*c), claimed_cmp);
	for (size_t i = 0; i < n; i++)
		out[i] = c[i].ev;
	*ret_events = n ? out : NULL;
	*ret_n = n;
	if (n)
		out = NULL;
	n = 0;
out:
	for (size_t i = 0; i < n; i++)
		event_release(&c[i].ev);
	free(out);
	free(c);
	return err;
}

static bool is_outcome(enum cmh_journal_status to, bool allow_ignored)
{
	return to == CMH_JOURNAL_DONE || to == CMH_JOURNAL_FAILED || to == CMH_JOURNAL_PENDING ||
	       (allow_ignored && to == CMH_JOURNAL_IGNORED);
}

enum cmh_err cmh_journal_finish(struct cmh_journal *j, const char *event_id,
				enum cmh_journal_status to, int64_t next_attempt_at_ms,
				const char *reason)
{
	enum cmh_err err;
	size_t n = 0;

	if (!event_id || !is_outcome(to, true))
		return CMH_ERR_USAGE;
	err = begin(j);
	/* next_attempt_at matters only for pending; the others keep theirs. */
	if (!err)
		err = run(j, "UPDATE events SET status = ?1, attempts = attempts + 1,"
			  " next_attempt_at = CASE WHEN ?1 = 'pending' THEN ?2 ELSE next_attempt_at END,"
			  " last_error = ?3, updated_at = ?4"
			  " WHERE event_id = ?5 AND status = 'processing'", &n, "sisis",
			  status_names[to], next_attempt_at_ms, reason, now_ms(), event_id);
	if (!err && n == 0)
		err = CMH_ERR_NOT_FOUND;
	return end(j, err);
}

static enum cmh_err delivery_read(struct cmh_journal *j, const char *event_id,
				  const char *channel, struct cmh_journal_delivery *ret)
{
	sqlite3_stmt *st = NULL;
	enum cmh_err err;
	int rc;

	err = prepare(j->db, "SELECT status, attempts, next_attempt_at FROM deliveries"
		      " WHERE event_id = ?1 AND channel = ?2", &st, NULL);
	if (err)
		return err;
	(void)bind_text(st, 1, event_id);
	(void)bind_text(st, 2, channel);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (cmh_journal_status_parse((const char *)sqlite3_column_text(st, 0),
					     &ret->status))
			err = CMH_ERR_IO;
		ret->attempts = column_uint(st, 1);
		ret->next_attempt_at_ms = sqlite3_column_int64(st, 2);
	} else {
		err = rc == SQLITE_DONE ? CMH_ERR_NOT_FOUND : sql_fail(j->db, rc, "delivery", NULL);
	}
	sqlite3_finalize(st);
	return err;
}

static bool id_ok(const char *s)
{
	size_t len = s ? strnlen(s, CMH_JOURNAL_MAX_ID + 1) : 0;

	return len > 0 && len <= CMH_JOURNAL_MAX_ID;
}

enum cmh_err cmh_journal_delivery_get(struct cmh_journal *j, const char *event_id,
				      const char *channel, int64_t now,
				      struct cmh_journal_delivery *ret)
{
	struct cmh_journal_delivery d;
	enum cmh_err err;
	bool found = false;

	if (!id_ok(event_id) || !id_ok(channel))
		return CMH_ERR_USAGE;
	err = begin(j);
	/* Check first: a foreign-key failure would say nothing about which key. */
	if (!err)
		err = exists(j, event_id, &found);
	if (!err && !found)
		err = CMH_ERR_NOT_FOUND;
	if (!err)
		err = run(j, "INSERT INTO deliveries (event_id, channel, status, attempts,"
			  " next_attempt_at, updated_at) VALUES (?1, ?2, 'pending', 0, ?3, ?3)"
			  " ON CONFLICT (event_id, channel) DO NOTHING", NULL, "ssi",
			  event_id, channel, now);
	if (!err)
		err = delivery_read(j, event_id, channel, &d);
	err = end(j, err);
	if (!err)
		*ret = d;
	return err;
}

enum cmh_err cmh_journal_delivery_finish(struct cmh_journal *j, const char *event_id,
					 const char *channel, enum cmh_journal_status to,
					 int64_t next_attempt_at_ms, const char *reason)
{
	enum cmh_err err;
	size_t n = 0;

	if (!event_id || !channel || !is_outcome(to, false))
		return CMH_ERR_USAGE;
	err = begin(j);
	if (!err)
		err = run(j, "UPDATE deliveries SET status = ?1, attempts = attempts + 1,"
			  " next_attempt_at = CASE WHEN ?1 = 'pending' THEN ?2 ELSE next_attempt_at END,"
			  " last_error = ?3, updated_at = ?4 WHERE event_id = ?5 AND channel = ?6",
			  &n, "sisiss", status_names[to], next_attempt_at_ms, reason, now_ms(),
			  event_id, channel);
	if (!err && n == 0)
		err = CMH_ERR_NOT_FOUND;
	return end(j, err);
}

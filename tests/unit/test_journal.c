/*
 * Tests of the SQLite journal through its backend-neutral interface: schema
 * and pragmas as they land on disk, group commit under concurrency, dedupe,
 * listing, replay, recovery, the worker claim cycle, deliveries, shutdown
 * with appends in flight, unusable paths, and rows acknowledged just before
 * a SIGKILL. Each test works in its own mkdtemp directory, removed after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/cmh-journal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->path, sizeof(f->path), "%s/journal.db", f->dir);
	*state = f;
	return 0;
}

static void unlink_db(const struct fixture *f)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[128];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		(void)snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		(void)unlink(p);
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink_db(f);
	if (rmdir(f->dir))
		fprintf(stderr, "cannot remove %s: %s\n", f->dir, strerror(errno));
	free(f);
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cmh_journal *open_ok(const struct fixture *f)
{
	struct cmh_journal *j = NULL;
	struct cmh_buf e;

	cmh_buf_init(&e, CMH_BUF_MAX_ERRMSG);
	if (cmh_journal_open(f->path, &j, &e))
		fail_msg("open: %s", e.data);
	cmh_buf_release(&e);
	return j;
}

static struct cmh_journal_entry entry(const char *id, int64_t at, const char *status)
{
	static const char body[] = "{\"event_id\":\"x\"}";

	return (struct cmh_journal_entry){
		.event_id = id, .received_at_ms = at, .kind = "started",
		.event_urn = "urn:oeid:cloudmanager:1", .object_url = "https://cm/api/program/1",
		.published = "2026-01-01T00:00:00Z", .execution_key = id, /* own execution */
		.body = body, .body_len = sizeof(body) - 1, .status = status,
	};
}

static void append_one(struct cmh_journal *j, const char *id, int64_t at, const char *status,
		       bool want_inserted)
{
	struct cmh_journal_entry e = entry(id, at, status);
	bool ins = !want_inserted;

	assert_int_equal(cmh_journal_append(j, &e, 1, &ins), CMH_OK);
	assert_int_equal(ins, want_inserted);
}

static uint64_t count_of(struct cmh_journal *j, enum cmh_journal_status s)
{
	uint64_t c[CMH_JOURNAL_STATUS_COUNT];

	assert_int_equal(cmh_journal_counts(j, c), CMH_OK);
	return c[s];
}

struct find {
	const char *id;
	bool found;
};

static enum cmh_err find_row(const struct cmh_journal_row *row, void *ud)
{
	struct find *f = ud;

	if (!strcmp(row->event_id, f->id))
		f->found = true;
	return CMH_OK;
}

static bool exists(struct cmh_journal *j, const char *id)
{
	struct find f = { .id = id };

	assert_int_equal(cmh_journal_list(j, NULL, CMH_JOURNAL_LIST_MAX, find_row, &f), CMH_OK);
	return f.found;
}

/* ---- Collecting listed rows ---- */

struct listed {
	size_t n;
	char ids[16][32];
	enum cmh_journal_status status[16];
	unsigned attempts[16];
	char last_error[16][32];
	bool stop_after_first;
};

static enum cmh_err collect(const struct cmh_journal_row *row, void *ud)
{
	struct listed *l = ud;

	assert_true(l->n < 16);
	(void)snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", row->event_id);
	(void)snprintf(l->last_error[l->n], sizeof(l->last_error[0]), "%s",
		       row->last_error ? row->last_error : "(null)");
	l->status[l->n] = row->status;
	l->attempts[l->n] = row->attempts;
	l->n++;
	return l->stop_after_first ? CMH_ERR_INTERNAL : CMH_OK;
}

/* ---- Tests ---- */

static uint32_t be32_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The SQLite file header: bytes 18/19 are 2 in WAL mode, 60..63 the user_version. */
static void read_header(const char *path, unsigned char hdr[100])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, hdr, 100), 100);
	close(fd);
}

static void test_journal_schema_created(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	unsigned char hdr[100];

	assert_int_equal(cmh_journal_check_writable(j), CMH_OK);
	cmh_journal_close(j);
	read_header(f->path, hdr);
	assert_memory_equal(hdr, "SQLite format 3", 16);
	assert_int_equal(hdr[18], 2);
	assert_int_equal(hdr[19], 2);
	assert_int_equal(be32_at(hdr + 60), 3);

	/* Reopening an up-to-date file keeps the version. */
	j = open_ok(f);
	cmh_journal_close(j);
	read_header(f->path, hdr);
	assert_int_equal(be32_at(hdr + 60), 3);
}

static void test_journal_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	unsigned char v[4] = { 0, 0, 0, 99 };
	struct cmh_buf e;
	int fd;

	cmh_journal_close(j);
	fd = open(f->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, v, 4, 60), 4);
	close(fd);

	cmh_buf_init(&e, CMH_BUF_MAX_ERRMSG);
	j = NULL;
	assert_int_equal(cmh_journal_open(f->path, &j, &e), CMH_ERR_CONFIG);
	assert_null(j);
	assert_non_null(strstr(e.data, "newer"));
	assert_int_equal(cmh_journal_open_client(f->path, &j, &e), CMH_ERR_CONFIG);
	cmh_buf_release(&e);
}

static void test_journal_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct listed l = { 0 };

	append_one(j, "ev-1", 1000, "pending", true);
	append_one(j, "ev-2", 2000, "ignored", true);
	cmh_journal_close(j);

	assert_int_equal(cmh_journal_open_client(f->path, &j, NULL), CMH_OK);
	assert_int_equal(cmh_journal_list(j, NULL, 10, collect, &l), CMH_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[0], "ev-2");
	assert_int_equal(l.status[0], CMH_JOURNAL_IGNORED);
	assert_string_equal(l.ids[1], "ev-1");
	assert_int_equal(l.status[1], CMH_JOURNAL_PENDING);
	assert_string_equal(l.last_error[1], "(null)");
	/* A client handle commits appends itself. */
	append_one(j, "ev-3", 3000, "pending", true);
	append_one(j, "ev-1", 3000, "pending", false);
	cmh_journal_close(j);

	j = open_ok(f);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_IGNORED), 1);
	cmh_journal_close(j);
}

static void test_journal_duplicate(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_stats st;

	append_one(j, "dup", 1000, "pending", true);
	append_one(j, "dup", 5000, "ignored", false);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_IGNORED), 0);
	cmh_journal_stats(j, &st);
	assert_int_equal(st.inserted, 1);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.commits, 2);
	cmh_journal_close(j);
}

static void test_journal_batch_in_one_call(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_entry e[4] = {
		entry("b-1", 1, "pending"), entry("b-2", 2, "pending"),
		entry("b-1", 3, "pending"), entry("b-3", 4, "ignored"),
	};
	bool ins[4] = { false, false, true, false };
	struct cmh_journal_stats st;

	e[1].event_urn = e[1].object_url = e[1].published = e[1].execution_key = NULL;
	e[1].body = NULL;
	e[1].body_len = 0;
	assert_int_equal(cmh_journal_append(j, e, 4, ins), CMH_OK);
	assert_true(ins[0]);
	assert_true(ins[1]);
	assert_false(ins[2]);
	assert_true(ins[3]);
	cmh_journal_stats(j, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.inserted, 3);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(cmh_journal_append(j, e, 0, NULL), CMH_OK);
	cmh_journal_stats(j, &st);
	assert_int_equal(st.commits, 1);
	cmh_journal_close(j);
}

static void test_journal_invalid_entries(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_entry good = entry("ok", 1, "pending"), e;
	static struct cmh_journal_entry many[CMH_JOURNAL_APPEND_MAX + 1];
	char *long_id = malloc(CMH_JOURNAL_MAX_ID + 2);
	char *long_text = malloc(CMH_JOURNAL_MAX_TEXT + 2);
	struct cmh_journal_stats st;
	bool ins[2] = { true, true };

	assert_non_null(long_id);
	assert_non_null(long_text);
	memset(long_id, 'a', CMH_JOURNAL_MAX_ID + 1);
	long_id[CMH_JOURNAL_MAX_ID + 1] = '\0';
	memset(long_text, 'u', CMH_JOURNAL_MAX_TEXT + 1);
	long_text[CMH_JOURNAL_MAX_TEXT + 1] = '\0';

	e = good; e.event_id = NULL;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.event_id = "";
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.event_id = long_id;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_TOO_LARGE);
	e = good; e.kind = "finished";
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.kind = NULL;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.status = "done";
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.body = NULL;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_PARSE);
	e = good; e.body_len = (size_t)CMH_JOURNAL_MAX_BODY + 1;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_TOO_LARGE);
	e = good; e.object_url = long_text;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_TOO_LARGE);
	for (size_t i = 0; i < CMH_JOURNAL_APPEND_MAX + 1; i++)
		many[i] = good;
	assert_int_equal(cmh_journal_append(j, many, CMH_JOURNAL_APPEND_MAX + 1, NULL),
			 CMH_ERR_TOO_LARGE);

	/* One bad entry rejects the whole call, and ret_inserted is untouched. */
	struct cmh_journal_entry pair[2] = { good, good };
	pair[1].kind = "bogus";
	assert_int_equal(cmh_journal_append(j, pair, 2, ins), CMH_ERR_PARSE);
	assert_true(ins[0] && ins[1]);

	/* Exactly at the limits is fine. */
	long_id[CMH_JOURNAL_MAX_ID] = '\0';
	long_text[CMH_JOURNAL_MAX_TEXT] = '\0';
	e = good; e.event_id = long_id; e.object_url = long_text;
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_OK);

	cmh_journal_stats(j, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 1);
	assert_true(exists(j, long_id));
	assert_false(exists(j, "ok"));
	free(long_id);
	free(long_text);
	cmh_journal_close(j);
}

/* ---- Concurrency ---- */

#define THREADS 8
#define PER_THREAD 200

struct appender {
	struct cmh_journal *j;
	int id;
	int ok;            /* appends acknowledged */
	int unavailable;   /* appends refused */
	int other;         /* any other result: a failure */
	bool until_refused;
};

static void *appender_main(void *arg)
{
	struct appender *a = arg;

	for (int i = 0; a->until_refused || i < PER_THREAD; i++) {
		char id[32];
		struct cmh_journal_entry e;
		enum cmh_err err;

		(void)snprintf(id, sizeof(id), "t%d-%d", a->id, i);
		e = entry(id, i, "pending");
		err = cmh_journal_append(a->j, &e, 1, NULL);
		if (err == CMH_OK) {
			a->ok++;
		} else if (err == CMH_ERR_UNAVAILABLE) {
			a->unavailable++;
			if (a->until_refused)
				break;
		} else {
			a->other++;
			break;
		}
	}
	return NULL;
}

static void test_journal_concurrent_group_commit(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct appender a[THREADS];
	pthread_t t[THREADS];
	struct cmh_journal_stats st;

	for (int i = 0; i < THREADS; i++) {
		a[i] = (struct appender){ .j = j, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, appender_main, &a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].ok, PER_THREAD);
	}
	cmh_journal_stats(j, &st);
	assert_int_equal(st.requests, THREADS * PER_THREAD);
	assert_int_equal(st.inserted, THREADS * PER_THREAD);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.commit_failures, 0);
	assert_int_equal(st.queued, 0);
	/* Group commit: waiting requests share transactions. */
	assert_true(st.commits < THREADS * PER_THREAD);
	print_message("      %d appends in %llu commits\n", THREADS * PER_THREAD,
		      (unsigned long long)st.commits);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), THREADS * PER_THREAD);
	cmh_journal_close(j);
}

static void wait_for_requests(struct cmh_journal *j, uint64_t n)
{
	int64_t deadline = wall_ms() + 60000;
	struct cmh_journal_stats st;

	for (;;) {
		cmh_journal_stats(j, &st);
		if (st.requests >= n)
			return;
		if (wall_ms() > deadline)
			fail_msg("only %llu of %llu appends within 60 s",
				 (unsigned long long)st.requests, (unsigned long long)n);
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

static void test_journal_shutdown_with_appends_in_flight(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct appender a[THREADS];
	pthread_t t[THREADS];
	uint64_t acked = 0;

	for (int i = 0; i < THREADS; i++) {
		a[i] = (struct appender){ .j = j, .id = i, .until_refused = true };
		assert_int_equal(pthread_create(&t[i], NULL, appender_main, &a[i]), 0);
	}
	wait_for_requests(j, 100);
	cmh_journal_shutdown(j);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].other, 0);
		assert_int_equal(a[i].unavailable, 1);
		acked += (uint64_t)a[i].ok;
	}
	assert_int_equal(cmh_journal_check_writable(j), CMH_ERR_UNAVAILABLE);
	cmh_journal_close(j);

	/* Every acknowledged append is there, and nothing refused is. */
	assert_int_equal(cmh_journal_open_client(f->path, &j, NULL), CMH_OK);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), acked);
	for (int i = 0; i < THREADS; i++) {
		char id[32];

		(void)snprintf(id, sizeof(id), "t%d-%d", i, a[i].ok - 1);
		assert_true(a[i].ok == 0 || exists(j, id));
	}
	cmh_journal_close(j);
}

/* ---- Listing ---- */

static void test_journal_list(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct listed l = { 0 };

	append_one(j, "old", 1000, "pending", true);
	append_one(j, "new", 3000, "ignored", true);
	append_one(j, "mid", 2000, "pending", true);
	append_one(j, "mid-later", 2000, "pending", true);

	assert_int_equal(cmh_journal_list(j, NULL, 10, collect, &l), CMH_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.ids[0], "new");
	assert_string_equal(l.ids[1], "mid-later");
	assert_string_equal(l.ids[2], "mid");
	assert_string_equal(l.ids[3], "old");

	memset(&l, 0, sizeof(l));
	assert_int_equal(cmh_journal_list(j, "pending", 2, collect, &l), CMH_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[0], "mid-later");
	assert_string_equal(l.ids[1], "mid");

	memset(&l, 0, sizeof(l));
	assert_int_equal(cmh_journal_list(j, "ignored", 10, collect, &l), CMH_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.ids[0], "new");

	memset(&l, 0, sizeof(l));
	assert_int_equal(cmh_journal_list(j, "failed", 10, collect, &l), CMH_OK);
	assert_int_equal(l.n, 0);

	assert_int_equal(cmh_journal_list(j, NULL, 0, collect, &l), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_list(j, NULL, CMH_JOURNAL_LIST_MAX + 1, collect, &l),
			 CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_list(j, "Pending", 10, collect, &l), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_list(j, "", 10, collect, &l), CMH_ERR_USAGE);

	/* The callback's error stops the iteration and comes back. */
	memset(&l, 0, sizeof(l));
	l.stop_after_first = true;
	assert_int_equal(cmh_journal_list(j, NULL, 10, collect, &l), CMH_ERR_INTERNAL);
	assert_int_equal(l.n, 1);
	cmh_journal_close(j);
}

static void test_journal_status_names(void **state)
{
	enum cmh_journal_status s;

	for (int i = 0; i < CMH_JOURNAL_STATUS_COUNT; i++) {
		assert_int_equal(cmh_journal_status_parse(cmh_journal_status_name(i), &s), CMH_OK);
		assert_int_equal(s, i);
	}
	assert_null(cmh_journal_status_name(CMH_JOURNAL_STATUS_COUNT));
	assert_int_equal(cmh_journal_status_parse(NULL, &s), CMH_ERR_PARSE);
	assert_int_equal(cmh_journal_status_parse("DONE", &s), CMH_ERR_PARSE);
	assert_int_equal(cmh_journal_status_parse("don", &s), CMH_ERR_PARSE);
}

/* ---- Worker cycle ---- */

static void test_journal_claim_finish_retry(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_entry e = entry("c-2", 200, "pending");
	static const char body[] = "raw\0bytes";
	struct cmh_journal_event *ev = NULL;
	size_t n = 99;
	int64_t now = wall_ms();

	append_one(j, "c-3", 300, "pending", true);
	e.body = body;
	e.body_len = sizeof(body);   /* with the embedded and final NUL */
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_OK);
	append_one(j, "c-1", 100, "pending", true);
	append_one(j, "c-ign", 50, "ignored", true);

	assert_int_equal(cmh_journal_claim(j, now, 0, &ev, &n), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_claim(j, now, CMH_JOURNAL_CLAIM_MAX + 1, &ev, &n),
			 CMH_ERR_USAGE);
	/* Not due before received_at. */
	assert_int_equal(cmh_journal_claim(j, 99, 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 0);
	assert_null(ev);

	assert_int_equal(cmh_journal_claim(j, now, 2, &ev, &n), CMH_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ev[0].event_id, "c-1");
	assert_string_equal(ev[1].event_id, "c-2");
	assert_int_equal(ev[1].body_len, sizeof(body));
	assert_memory_equal(ev[1].body, body, sizeof(body));
	assert_string_equal(ev[1].kind, "started");
	assert_string_equal(ev[1].execution_key, "c-2");
	assert_int_equal(ev[1].received_at_ms, 200);
	assert_int_equal(ev[1].attempts, 0);
	assert_null(ev[1].last_error);
	cmh_journal_events_free(ev, n);
	assert_int_equal(count_of(j, CMH_JOURNAL_PROCESSING), 2);

	assert_int_equal(cmh_journal_claim(j, now, 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].event_id, "c-3");
	cmh_journal_events_free(ev, n);
	assert_int_equal(cmh_journal_claim(j, now, 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 0);

	assert_int_equal(cmh_journal_finish(j, "c-1", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "c-2", CMH_JOURNAL_PENDING, now + 60000,
					    "slack answered 503"), CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "c-3", CMH_JOURNAL_FAILED, 0, "404"), CMH_OK);
	/* Only processing rows can be finished. */
	assert_int_equal(cmh_journal_finish(j, "c-1", CMH_JOURNAL_DONE, 0, NULL),
			 CMH_ERR_NOT_FOUND);
	assert_int_equal(cmh_journal_finish(j, "nope", CMH_JOURNAL_DONE, 0, NULL),
			 CMH_ERR_NOT_FOUND);
	assert_int_equal(cmh_journal_finish(j, "c-2", CMH_JOURNAL_PROCESSING, 0, NULL),
			 CMH_ERR_USAGE);

	/* The retry is not due yet, then it is, with its attempt counted. */
	assert_int_equal(cmh_journal_claim(j, now + 59999, 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cmh_journal_claim(j, now + 60000, 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].event_id, "c-2");
	assert_int_equal(ev[0].attempts, 1);
	assert_string_equal(ev[0].last_error, "slack answered 503");
	cmh_journal_events_free(ev, n);
	assert_int_equal(cmh_journal_finish(j, "c-2", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);

	assert_int_equal(count_of(j, CMH_JOURNAL_DONE), 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_FAILED), 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_IGNORED), 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 0);
	assert_int_equal(count_of(j, CMH_JOURNAL_PROCESSING), 0);
	cmh_journal_events_free(NULL, 0);
	cmh_journal_close(j);
}

static void claim_ids(struct cmh_journal *j, int64_t now, const char *expect)
{
	struct cmh_journal_event *ev = NULL;
	size_t n = 0;
	char got[256] = "";

	assert_int_equal(cmh_journal_claim(j, now, 10, &ev, &n), CMH_OK);
	for (size_t i = 0; i < n; i++) {
		strncat(got, ev[i].event_id, sizeof(got) - strlen(got) - 2);
		strncat(got, " ", sizeof(got) - strlen(got) - 1);
	}
	cmh_journal_events_free(ev, n);
	assert_string_equal(got, expect);
}

/* Events of one execution are claimed one at a time, in arrival order, and a
 * retried earlier event holds back only its own execution's later events. */
static void test_journal_claim_orders_each_execution(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	const char *ids[] = { "a1", "b1", "a2", "a3", "b2" };
	const char *keys[] = { "p/1/x/1/e/1", "p/1/x/1/e/2", "p/1/x/1/e/1", "p/1/x/1/e/1",
			       "p/1/x/1/e/2" };
	int64_t now = wall_ms();

	for (size_t i = 0; i < 5; i++) {
		struct cmh_journal_entry e = entry(ids[i], now, "pending");
		e.execution_key = keys[i];
		assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_OK);
	}
	claim_ids(j, now, "a1 b1 ");
	claim_ids(j, now, "");
	/* a1 must be retried later: a2 and a3 keep waiting, b2 goes on. */
	assert_int_equal(cmh_journal_finish(j, "a1", CMH_JOURNAL_PENDING, now + 1000, "503"),
			 CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "b1", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);
	claim_ids(j, now, "b2 ");
	claim_ids(j, now + 1000, "a1 ");
	assert_int_equal(cmh_journal_finish(j, "a1", CMH_JOURNAL_FAILED, 0, "400"), CMH_OK);
	claim_ids(j, now + 1000, "a2 ");
	assert_int_equal(cmh_journal_finish(j, "a2", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);
	claim_ids(j, now + 1000, "a3 ");
	cmh_journal_close(j);
}

static void test_journal_recover(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_event *ev = NULL;
	size_t n = 0, recovered = 99;

	append_one(j, "r-1", 1, "pending", true);
	append_one(j, "r-2", 2, "pending", true);
	append_one(j, "r-3", 3, "pending", true);
	assert_int_equal(cmh_journal_claim(j, wall_ms(), 2, &ev, &n), CMH_OK);
	cmh_journal_events_free(ev, n);
	cmh_journal_close(j);   /* the "crash": two rows left processing */

	j = open_ok(f);
	assert_int_equal(count_of(j, CMH_JOURNAL_PROCESSING), 2);
	assert_int_equal(cmh_journal_recover(j, &recovered), CMH_OK);
	assert_int_equal(recovered, 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_PROCESSING), 0);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 3);
	assert_int_equal(cmh_journal_recover(j, NULL), CMH_OK);
	assert_int_equal(cmh_journal_claim(j, wall_ms(), 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].attempts, 0);
	cmh_journal_events_free(ev, n);
	cmh_journal_close(j);
}

static void claim_all(struct cmh_journal *j)
{
	struct cmh_journal_event *ev = NULL;
	size_t n = 0;

	assert_int_equal(cmh_journal_claim(j, INT64_MAX, CMH_JOURNAL_CLAIM_MAX, &ev, &n), CMH_OK);
	cmh_journal_events_free(ev, n);
}

static void test_journal_deliveries(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_delivery d;

	append_one(j, "d-1", 1, "pending", true);
	assert_int_equal(cmh_journal_delivery_get(j, "missing", "slack", 10, &d),
			 CMH_ERR_NOT_FOUND);
	assert_int_equal(cmh_journal_delivery_get(j, "d-1", "", 10, &d), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_delivery_get(j, "d-1", NULL, 10, &d), CMH_ERR_USAGE);

	assert_int_equal(cmh_journal_delivery_get(j, "d-1", "slack", 10, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_PENDING);
	assert_int_equal(d.attempts, 0);
	assert_int_equal(d.next_attempt_at_ms, 10);

	assert_int_equal(cmh_journal_delivery_finish(j, "d-1", "slack", CMH_JOURNAL_PENDING,
						     500, "timeout"), CMH_OK);
	/* get does not reset an existing row. */
	assert_int_equal(cmh_journal_delivery_get(j, "d-1", "slack", 20, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_PENDING);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.next_attempt_at_ms, 500);

	assert_int_equal(cmh_journal_delivery_finish(j, "d-1", "slack", CMH_JOURNAL_DONE, 0,
						     NULL), CMH_OK);
	assert_int_equal(cmh_journal_delivery_get(j, "d-1", "slack", 30, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_DONE);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(d.next_attempt_at_ms, 500);

	/* Channels are independent. */
	assert_int_equal(cmh_journal_delivery_get(j, "d-1", "teams", 40, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_PENDING);
	assert_int_equal(d.attempts, 0);

	assert_int_equal(cmh_journal_delivery_finish(j, "d-1", "webhook", CMH_JOURNAL_DONE, 0,
						     NULL), CMH_ERR_NOT_FOUND);
	assert_int_equal(cmh_journal_delivery_finish(j, "d-1", "slack", CMH_JOURNAL_IGNORED, 0,
						     NULL), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_delivery_finish(j, "d-1", "slack", CMH_JOURNAL_PROCESSING,
						     0, NULL), CMH_ERR_USAGE);
	cmh_journal_close(j);
}

static void fail_event(struct cmh_journal *j, const char *id)
{
	struct cmh_journal_delivery d;

	assert_int_equal(cmh_journal_delivery_get(j, id, "slack", 1, &d), CMH_OK);
	assert_int_equal(cmh_journal_delivery_get(j, id, "teams", 1, &d), CMH_OK);
	assert_int_equal(cmh_journal_delivery_finish(j, id, "slack", CMH_JOURNAL_FAILED, 0,
						     "410 gone"), CMH_OK);
	assert_int_equal(cmh_journal_delivery_finish(j, id, "teams", CMH_JOURNAL_DONE, 0, NULL),
			 CMH_OK);
	assert_int_equal(cmh_journal_finish(j, id, CMH_JOURNAL_FAILED, 0, "slack: 410 gone"),
			 CMH_OK);
}

static void test_journal_replay_ids(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	const char *ids[] = { "p-1", "missing", "p-2", "p-3" };
	bool found[4] = { false, true, false, false };
	struct cmh_journal_delivery d;
	struct cmh_journal_event *ev = NULL;
	struct listed l = { 0 };
	size_t changed = 99, n = 0;
	int64_t before = wall_ms();

	append_one(j, "p-1", 1, "pending", true);
	append_one(j, "p-2", 2, "pending", true);
	append_one(j, "p-3", 3, "pending", true);
	claim_all(j);
	fail_event(j, "p-1");
	assert_int_equal(cmh_journal_finish(j, "p-2", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);
	/* p-3 stays processing: a worker owns it, replay leaves it alone. */

	assert_int_equal(cmh_journal_replay_ids(j, ids, 4, &changed, found), CMH_OK);
	assert_int_equal(changed, 2);
	assert_true(found[0]);
	assert_false(found[1]);
	assert_true(found[2]);
	assert_true(found[3]);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_PROCESSING), 1);

	/* Failed delivery back to pending, done one stays done; last_error kept. */
	assert_int_equal(cmh_journal_delivery_get(j, "p-1", "slack", 1, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_PENDING);
	assert_int_equal(d.attempts, 0);
	assert_true(d.next_attempt_at_ms >= before);
	assert_int_equal(cmh_journal_delivery_get(j, "p-1", "teams", 1, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_DONE);
	assert_int_equal(cmh_journal_list(j, "pending", 10, collect, &l), CMH_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[1], "p-1");
	assert_int_equal(l.attempts[1], 0);
	assert_string_equal(l.last_error[1], "slack: 410 gone");

	/* Due now. */
	assert_int_equal(cmh_journal_claim(j, wall_ms(), 10, &ev, &n), CMH_OK);
	assert_int_equal(n, 2);
	cmh_journal_events_free(ev, n);

	assert_int_equal(cmh_journal_replay_ids(j, ids, 0, &changed, NULL), CMH_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(cmh_journal_replay_ids(j, (const char *[]){ "missing" }, 1, &changed,
						NULL), CMH_OK);
	assert_int_equal(changed, 0);
	cmh_journal_close(j);
}

static void test_journal_replay_failed(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_delivery d;
	size_t changed = 99;

	assert_int_equal(cmh_journal_replay_failed(j, &changed), CMH_OK);
	assert_int_equal(changed, 0);

	append_one(j, "f-1", 1, "pending", true);
	append_one(j, "f-2", 2, "pending", true);
	append_one(j, "f-3", 3, "pending", true);
	append_one(j, "f-4", 4, "ignored", true);
	claim_all(j);
	fail_event(j, "f-1");
	fail_event(j, "f-2");
	assert_int_equal(cmh_journal_finish(j, "f-3", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);

	assert_int_equal(cmh_journal_replay_failed(j, &changed), CMH_OK);
	assert_int_equal(changed, 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 2);
	assert_int_equal(count_of(j, CMH_JOURNAL_DONE), 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_IGNORED), 1);
	assert_int_equal(count_of(j, CMH_JOURNAL_FAILED), 0);
	assert_int_equal(cmh_journal_delivery_get(j, "f-2", "slack", 1, &d), CMH_OK);
	assert_int_equal(d.status, CMH_JOURNAL_PENDING);
	assert_int_equal(cmh_journal_replay_failed(j, NULL), CMH_OK);
	cmh_journal_close(j);
}

/* ---- Unusable paths ---- */

static void test_journal_unusable_paths(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = NULL;
	char p[160], junk[4096];
	struct cmh_buf e;
	int fd;

	cmh_buf_init(&e, CMH_BUF_MAX_ERRMSG);
	(void)snprintf(p, sizeof(p), "%s/no/such/dir/journal.db", f->dir);
	assert_int_equal(cmh_journal_open(p, &j, &e), CMH_ERR_IO);
	assert_null(j);
	assert_non_null(strstr(e.data, "no/such/dir/journal.db"));

	/* A directory where the file should be. */
	assert_int_equal(cmh_journal_open(f->dir, &j, &e), CMH_ERR_IO);
	assert_null(j);

	/* Not a database. */
	fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	cmh_buf_reset(&e);
	assert_int_equal(cmh_journal_open(f->path, &j, &e), CMH_ERR_IO);
	assert_null(j);
	assert_true(e.len > 0);
	unlink_db(f);

	/* The CLI does not create a journal. */
	assert_int_equal(cmh_journal_open_client(f->path, &j, &e), CMH_ERR_NOT_FOUND);
	assert_null(j);
	assert_int_equal(access(f->path, F_OK), -1);

	assert_int_equal(cmh_journal_open("", &j, &e), CMH_ERR_CONFIG);
	assert_int_equal(cmh_journal_open(NULL, &j, NULL), CMH_ERR_CONFIG);
	cmh_journal_close(NULL);
	cmh_journal_shutdown(NULL);
	cmh_buf_release(&e);
}

static void test_journal_check_writable(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f), *c = NULL;
	struct cmh_journal_entry e = entry("w", 1, "pending");

	assert_int_equal(cmh_journal_check_writable(j), CMH_OK);
	assert_int_equal(cmh_journal_open_client(f->path, &c, NULL), CMH_OK);
	assert_int_equal(cmh_journal_check_writable(c), CMH_OK);
	cmh_journal_close(c);
	cmh_journal_shutdown(j);
	assert_int_equal(cmh_journal_check_writable(j), CMH_ERR_UNAVAILABLE);
	assert_int_equal(cmh_journal_append(j, &e, 1, NULL), CMH_ERR_UNAVAILABLE);
	cmh_journal_shutdown(j);
	/* Reads still work between shutdown and close. */
	assert_int_equal(count_of(j, CMH_JOURNAL_PENDING), 0);
	cmh_journal_close(j);
}

/* ---- A commit that fails: RLIMIT_FSIZE makes the WAL write fail with EFBIG ---- */

#define BIG_BODY (4 * 1024 * 1024)

static void test_journal_commit_failure(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_entry e = entry("big", 1, "pending");
	struct cmh_journal_stats st;
	struct rlimit old, lim;
	void (*old_handler)(int);
	char *big = malloc(BIG_BODY);
	bool ins = true;

	assert_non_null(big);
	memset(big, 'b', BIG_BODY);
	e.body = big;
	e.body_len = BIG_BODY;
	append_one(j, "small-1", 1, "pending", true);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 1024 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(cmh_journal_append(j, &e, 1, &ins), CMH_ERR_UNAVAILABLE);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_true(ins);   /* untouched on error */

	cmh_journal_stats(j, &st);
	assert_int_equal(st.commit_failures, 1);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.requests, 1);
	/* Readiness recovers once a real write succeeds again. */
	assert_int_equal(cmh_journal_check_writable(j), CMH_OK);
	append_one(j, "small-2", 2, "pending", true);
	assert_true(exists(j, "small-2"));
	assert_false(exists(j, "big"));
	/* The same event can be journaled once the disk takes it. */
	assert_int_equal(cmh_journal_append(j, &e, 1, &ins), CMH_OK);
	assert_true(ins);
	free(big);
	cmh_journal_close(j);
}

/* ---- Durability: SIGKILL right after acknowledgements ---- */

#define KILL_AFTER 40

static void child_append_forever(const char *path, int wfd)
{
	struct cmh_journal *j = NULL;

	/* Never outlive a parent whose assertion failed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		_exit(2);
	if (cmh_journal_open(path, &j, NULL))
		_exit(3);
	for (uint32_t i = 0; i < 100000; i++) {
		char id[32];
		struct cmh_journal_entry e;

		(void)snprintf(id, sizeof(id), "k-%u", (unsigned)i);
		e = entry(id, i, "pending");
		if (cmh_journal_append(j, &e, 1, NULL))
			_exit(4);
		/* The acknowledgement: written only after append returned. */
		if (write(wfd, &i, sizeof(i)) != sizeof(i))
			_exit(5);
	}
	_exit(6);
}

static void test_journal_acknowledged_rows_survive_sigkill(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = NULL;
	uint32_t acked = 0, v;
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_append_forever(f->path, fds[1]);
	}
	close(fds[1]);
	while (acked < KILL_AFTER && read(fds[0], &v, sizeof(v)) == sizeof(v)) {
		assert_int_equal(v, acked);
		acked++;
	}
	assert_int_equal(acked, KILL_AFTER);
	assert_int_equal(kill(pid, SIGKILL), 0);
	/* Acknowledgements the child managed to send before dying count too. */
	while (read(fds[0], &v, sizeof(v)) == sizeof(v)) {
		assert_int_equal(v, acked);
		acked++;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	assert_int_equal(cmh_journal_open_client(f->path, &j, NULL), CMH_OK);
	assert_true(count_of(j, CMH_JOURNAL_PENDING) >= acked);
	for (uint32_t i = 0; i < acked; i++) {
		char id[32];

		(void)snprintf(id, sizeof(id), "k-%u", (unsigned)i);
		assert_true(exists(j, id));
	}
	print_message("      %u acknowledged rows present after SIGKILL\n", (unsigned)acked);
	cmh_journal_close(j);
}

struct async_result {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned calls;
	enum cmh_err err;
	bool inserted;
};

static void async_done(enum cmh_err err, const bool *inserted, size_t n, void *ud)
{
	struct async_result *r = ud;

	pthread_mutex_lock(&r->lock);
	r->calls++;
	r->err = err;
	r->inserted = err == CMH_OK && n == 1 && inserted[0];
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->lock);
}

static void wait_async(struct async_result *r, unsigned calls)
{
	pthread_mutex_lock(&r->lock);
	while (r->calls < calls)
		pthread_cond_wait(&r->cv, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

/* The asynchronous append calls back once per request, reports duplicates,
 * and is refused without a callback after shutdown. */
static void test_journal_append_async(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_entry e = entry("async-1", wall_ms(), "pending");
	struct async_result r = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

	assert_int_equal(cmh_journal_append_async(j, &e, 1, async_done, &r), CMH_OK);
	wait_async(&r, 1);
	assert_int_equal(r.err, CMH_OK);
	assert_true(r.inserted);
	assert_true(exists(j, "async-1"));

	assert_int_equal(cmh_journal_append_async(j, &e, 1, async_done, &r), CMH_OK);
	wait_async(&r, 2);
	assert_int_equal(r.err, CMH_OK);
	assert_false(r.inserted);

	assert_int_equal(cmh_journal_append_async(j, &e, 0, async_done, &r), CMH_ERR_USAGE);
	cmh_journal_shutdown(j);
	assert_int_equal(cmh_journal_append_async(j, &e, 1, async_done, &r), CMH_ERR_UNAVAILABLE);
	assert_int_equal(r.calls, 2);
	cmh_journal_close(j);
}

/* Retention deletes only finished events older than the cut-off, with their
 * delivery rows, in bounded batches. */
static void test_journal_prune(void **state)
{
	struct fixture *f = *state;
	struct cmh_journal *j = open_ok(f);
	struct cmh_journal_delivery del;
	size_t n = 99;

	append_one(j, "old-done", 100, "pending", true);
	append_one(j, "old-ignored", 100, "ignored", true);
	append_one(j, "old-failed", 100, "pending", true);
	append_one(j, "old-pending", 100, "pending", true);
	append_one(j, "new-done", 5000, "pending", true);
	claim_all(j);
	assert_int_equal(cmh_journal_delivery_get(j, "old-done", "slack", 0, &del), CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "old-done", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "old-failed", CMH_JOURNAL_FAILED, 0, "x"), CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "old-pending", CMH_JOURNAL_PENDING, 0, "x"),
			 CMH_OK);
	assert_int_equal(cmh_journal_finish(j, "new-done", CMH_JOURNAL_DONE, 0, NULL), CMH_OK);

	assert_int_equal(cmh_journal_prune(j, 1000, 0, &n), CMH_ERR_USAGE);
	assert_int_equal(cmh_journal_prune(j, 1000, 2, &n), CMH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cmh_journal_prune(j, 1000, 2, &n), CMH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cmh_journal_prune(j, 1000, 2, &n), CMH_OK);
	assert_int_equal(n, 0);
	assert_false(exists(j, "old-done"));
	assert_false(exists(j, "old-ignored"));
	assert_false(exists(j, "old-failed"));
	assert_true(exists(j, "old-pending"));
	assert_true(exists(j, "new-done"));
	/* The delivery row went with its event. */
	assert_int_equal(cmh_journal_delivery_finish(j, "old-done", "slack", CMH_JOURNAL_DONE, 0,
						     NULL), CMH_ERR_NOT_FOUND);
	cmh_journal_close(j);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_status_names),
		T(test_journal_schema_created),
		T(test_journal_newer_schema_refused),
		T(test_journal_reopen_keeps_data),
		T(test_journal_duplicate),
		T(test_journal_append_async),
		T(test_journal_batch_in_one_call),
		T(test_journal_invalid_entries),
		T(test_journal_concurrent_group_commit),
		T(test_journal_shutdown_with_appends_in_flight),
		T(test_journal_list),
		T(test_journal_claim_finish_retry),
		T(test_journal_claim_orders_each_execution),
		T(test_journal_recover),
		T(test_journal_prune),
		T(test_journal_deliveries),
		T(test_journal_replay_ids),
		T(test_journal_replay_failed),
		T(test_journal_unusable_paths),
		T(test_journal_check_writable),
		T(test_journal_commit_failure),
		T(test_journal_acknowledged_rows_survive_sigkill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

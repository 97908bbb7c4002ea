/*
 * `cmhook demo` end to end, with a clean environment and no credentials: it
 * must run the real daemon against the built-in simulation, print every
 * channel's messages (program, pipelines, the waiting approval, the failed
 * run), show only the configured channel kinds without ever printing their
 * URLs, and leave no temporary directory behind. Also `check --config-only`,
 * which `make run` uses to choose between serve and demo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "run.h"
#include "tmp.h"

/* Slack's pacing (1/s after a burst of 5) makes a full demo take ~12 s;
 * sanitizers and a busy machine need a generous bound. */
#define DEMO_TIMEOUT_MS 120000u
#define CHECK_TIMEOUT_MS 20000u

#define SLACK_URL "https://hooks.slack.com/services/T/B/X"

struct t {
	char *dir;        /* cwd and HOME of cmhook */
	char *tmpdir;     /* TMPDIR given to cmhook: must be empty afterwards */
	struct run_env env;
	struct run_result r;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->dir = tmp_dir_new();
	t->tmpdir = tmp_path(t->dir, "tmp");
	if (mkdir(t->tmpdir, 0700) != 0)
		return -1;
	run_env_init(&t->env);
	run_env_set(&t->env, "TMPDIR", t->tmpdir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	run_result_release(&t->r);
	run_env_release(&t->env);
	free(t->tmpdir);
	tmp_dir_free(t->dir);
	free(t);
	return 0;
}

static void run(struct t *t, unsigned timeout_ms, ...)
{
	const char *argv[8];
	size_t n = 0;
	va_list ap;

	va_start(ap, timeout_ms);
	while (n < 7 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	run_result_release(&t->r);
	if (!run_cmd(&t->r, t->dir, &t->env, argv, timeout_ms))
		fail_msg("cannot start %s", CMH_BINARY);
	if (t->r.timed_out) {
		run_result_dump(&t->r, argv[0]);
		fail_msg("cmhook %s timed out", argv[0]);
	}
}

static void expect_exit(struct t *t, int code)
{
	if (t->r.exit_code != code) {
		run_result_dump(&t->r, "cmhook");
		fail_msg("exit code %d, want %d", t->r.exit_code, code);
	}
}

static const char *find(const char *hay, const char *needle)
{
	return hay ? strstr(hay, needle) : NULL;
}

static void expect_out(struct t *t, const char *needle)
{
	if (!find(t->r.out, needle)) {
		run_result_dump(&t->r, "cmhook");
		fail_msg("stdout lacks \"%s\"", needle);
	}
}

static void expect_not_anywhere(struct t *t, const char *needle)
{
	if (find(t->r.out, needle) || find(t->r.err, needle)) {
		run_result_dump(&t->r, "cmhook");
		fail_msg("\"%s\" appears in the output", needle);
	}
}

/* The section of stdout for one channel: from its "=== title" to the next. */
static char *section(struct t *t, const char *title)
{
	char *head = tmp_xasprintf("=== %s", title);
	const char *start = find(t->r.out, head), *end;
	char *s;

	free(head);
	if (!start)
		return NULL;
	end = strstr(start + 3, "\n=== ");
	if (!end)
		end = start + strlen(start);
	s = tmp_xmalloc((size_t)(end - start) + 1);
	memcpy(s, start, (size_t)(end - start));
	s[end - start] = '\0';
	return s;
}

/* needles appear in s in this order (NULL-terminated). */
static void expect_in_order(struct t *t, const char *s, ...)
{
	const char *at = s, *needle;
	va_list ap;

	va_start(ap, s);
	while ((needle = va_arg(ap, const char *)) != NULL) {
		const char *p = at ? strstr(at, needle) : NULL;

		if (!p) {
			va_end(ap);
			run_result_dump(&t->r, "cmhook");
			fail_msg("\"%s\" missing or out of order", needle);
		}
		at = p + strlen(needle);
	}
	va_end(ap);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void expect_tmpdir_empty(struct t *t)
{
	DIR *d = opendir(t->tmpdir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	}
	closedir(d);
	if (n)
		fail_msg("the demo left %zu entries in TMPDIR", n);
}

static void test_demo_shows_every_channel_without_credentials(void **state)
{
	struct t *t = *state;
	char *slack, *teams, *hook;

	run(t, DEMO_TIMEOUT_MS, "demo", NULL);
	expect_exit(t, 0);
	slack = section(t, "Slack");
	teams = section(t, "Microsoft Teams (Workflows, Adaptive Card)");
	hook = section(t, "Generic webhook");
	if (!slack || !teams || !hook) {
		run_result_dump(&t->r, "demo");
		fail_msg("a channel section is missing");
	}
	/* NOTIFY_EVENTS is unset: all 16 events of the two runs notify. */
	assert_non_null(strstr(slack, ": 16 messages ==="));
	assert_non_null(strstr(teams, ": 16 messages ==="));
	assert_non_null(strstr(hook, ": 16 messages ==="));
	expect_in_order(t, slack, "Pipeline execution started", "Acme Corp Main Site",
			"Production Full Stack", "Step waiting", "Go-Live", "Pipeline execution "
			"succeeded", "Dev Deploy", "Build & Unit Testing", "FAILED",
			"Pipeline execution FAILED", "Failed step", NULL);
	expect_in_order(t, teams, "Action needed: Go-Live approval", "Pipeline execution FAILED",
			NULL);
	expect_in_order(t, hook, "needs_action: true", "outcome: failed", NULL);
	/* Durations come from the simulated API's timestamps. */
	assert_non_null(strstr(slack, "Duration: 58m 55s"));
	/* Every message links to the execution in Cloud Manager. */
	assert_int_equal(count(slack, "pipelineexecution.html/program/22734/"), 16);
	/* The closing hint (no .env.example in this directory). */
	expect_out(t, "Create a file .env and fill in CLIENT_ID");
	expect_tmpdir_empty(t);
	free(slack);
	free(teams);
	free(hook);
}

static void test_demo_shows_only_slack_and_never_its_url(void **state)
{
	struct t *t = *state;

	run_env_set(&t->env, "SLACK_WEBHOOK", SLACK_URL);
	run(t, DEMO_TIMEOUT_MS, "demo", NULL);
	expect_exit(t, 0);
	expect_out(t, "=== Slack");
	expect_out(t, "Acme Corp Main Site");
	expect_out(t, "Step waiting: Go-Live approval needed");
	expect_out(t, "Pipeline execution FAILED");
	assert_null(find(t->r.out, "=== Microsoft Teams"));
	assert_null(find(t->r.out, "=== Generic webhook"));
	expect_not_anywhere(t, "hooks.slack.com");
	expect_not_anywhere(t, "/T/B/X");
	expect_tmpdir_empty(t);
}

/* Settings from ./.env: the Teams connector format, NOTIFY_EVENTS honoured. */
static void test_demo_follows_dotenv_channels_and_events(void **state)
{
	struct t *t = *state;
	char *teams, *hook;

	assert_true(tmp_write_env(t->dir, ".env",
		"TEAMS_WEBHOOK", "https://acme.webhook.office.com/webhookb2/g@t/IncomingWebhook/abc/def",
		"NOTIFY_WEBHOOK", "https://hooks.example.invalid/notify?sig=S3CRETSIG",
		"NOTIFY_EVENTS", "waiting,ended", NULL));
	run(t, DEMO_TIMEOUT_MS, "demo", NULL);
	expect_exit(t, 0);
	teams = section(t, "Microsoft Teams (connector, MessageCard)");
	hook = section(t, "Generic webhook");
	if (!teams || !hook) {
		run_result_dump(&t->r, "demo");
		fail_msg("a channel section is missing");
	}
	/* waiting (approval) + ended (succeeded) + ended (failed) */
	assert_non_null(strstr(teams, ": 3 messages ==="));
	assert_non_null(strstr(hook, ": 3 messages ==="));
	expect_in_order(t, teams, "Step waiting", "Pipeline execution succeeded",
			"Pipeline execution FAILED", "Failed step: Build & Unit Testing",
			"Open in Cloud Manager: https://experience.adobe.com/", NULL);
	assert_null(strstr(teams, "Step started"));
	assert_null(find(t->r.out, "=== Slack"));
	expect_not_anywhere(t, "webhook.office.com");
	expect_not_anywhere(t, "S3CRETSIG");
	expect_not_anywhere(t, "hooks.example.invalid");
	expect_tmpdir_empty(t);
	free(teams);
	free(hook);
}

static void test_demo_rejects_arguments_and_bad_channel_settings(void **state)
{
	struct t *t = *state;

	run(t, CHECK_TIMEOUT_MS, "demo", "extra", NULL);
	expect_exit(t, 2);
	run_env_set(&t->env, "SLACK_WEBHOOK", "not a url SECRETPART");
	run(t, CHECK_TIMEOUT_MS, "demo", NULL);
	expect_exit(t, 2);
	assert_non_null(find(t->r.err, "SLACK_WEBHOOK"));
	expect_not_anywhere(t, "SECRETPART");
	expect_tmpdir_empty(t);
}

static void test_check_config_only_needs_no_network(void **state)
{
	struct t *t = *state;

	run(t, CHECK_TIMEOUT_MS, "check", "--config-only", NULL);
	expect_exit(t, 2);
	assert_non_null(find(t->r.out, "configuration"));
	run_env_set(&t->env, "CLIENT_ID", "0123456789abcdef0123456789abcdef");
	run_env_set(&t->env, "CLIENT_SECRET", "s3cret");
	run_env_set(&t->env, "SCOPES", "openid,AdobeID");
	run(t, CHECK_TIMEOUT_MS, "check", "--config-only", NULL);
	expect_exit(t, 2);              /* ORGANIZATION_ID is still missing */
	run_env_set(&t->env, "ORGANIZATION_ID", "1234567890ABCDEF12345678@AdobeOrg");
	/* Nothing listens there: a network step would fail with exit 1. */
	run_env_set(&t->env, "IMS_URL", "http://127.0.0.1:1");
	run_env_set(&t->env, "CLOUDMANAGER_API_URL", "http://127.0.0.1:1");
	run(t, CHECK_TIMEOUT_MS, "check", "--config-only", NULL);
	expect_exit(t, 0);
	assert_non_null(find(t->r.out, "configuration"));
	assert_null(find(t->r.out, "token"));
	run(t, CHECK_TIMEOUT_MS, "check", NULL);
	expect_exit(t, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_demo_shows_every_channel_without_credentials,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_shows_only_slack_and_never_its_url,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_follows_dotenv_channels_and_events,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_demo_rejects_arguments_and_bad_channel_settings,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_config_only_needs_no_network,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

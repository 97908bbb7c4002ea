/* Unit tests for message.c: headlines for every kind and outcome, the step
 * action labels (known, unknown, NULL), outcome names, and freeing a fully
 * populated message (ASan checks the leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message.h"

static void test_message_action_labels(void **state)
{
	static const struct { const char *action, *label; } cases[] = {
		{ "validate", "Validation" },
		{ "build", "Build & Unit Testing" },
		{ "codeQuality", "Code Quality" },
		{ "buildImage", "Build Image" },
		{ "securityTest", "Security Testing" },
		{ "loadTest", "Performance Testing" },
		{ "assetsTest", "Assets Performance Testing" },
		{ "reportPerformanceTest", "Performance Test Report" },
		{ "productTest", "Product Functional Testing" },
		{ "functionalTest", "Custom Functional Testing" },
		{ "contentAudit", "Experience Audit" },
		{ "approval", "Go-Live Approval" },
		{ "schedule", "Scheduled Deployment" },
		{ "managed", "CSE Oversight" },
		{ "deploy", "Deployment" },
	};
	static const char unknown[] = "quantumTest";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(cmh_step_action_label(cases[i].action), cases[i].label);
	/* Unknown actions are shown verbatim: the very pointer comes back. */
	assert_ptr_equal(cmh_step_action_label(unknown), unknown);
	assert_string_equal(cmh_step_action_label(""), "");
	/* Exact, case-sensitive match: Adobe's spelling is the key. */
	assert_string_equal(cmh_step_action_label("CodeQuality"), "CodeQuality");
	assert_string_equal(cmh_step_action_label("build "), "build ");
	assert_null(cmh_step_action_label(NULL));
}

static void test_message_outcome_names(void **state)
{
	(void)state;
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_NONE), "");
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_SUCCEEDED), "succeeded");
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_FAILED), "failed");
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_CANCELLED), "cancelled");
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_ROLLED_BACK), "rolled back");
	assert_string_equal(cmh_outcome_name(CMH_OUTCOME_UNKNOWN), "unknown");
	assert_string_equal(cmh_outcome_name((enum cmh_outcome)99), "unknown");
}

static const char *headline(enum cmh_event_kind kind, enum cmh_outcome o, const char *action)
{
	struct cmh_message m = { .kind = kind, .outcome = o };

	m.has_step = action != NULL;
	m.step.action = (char *)action;
	return cmh_message_headline(&m);
}

static void test_message_headline_execution(void **state)
{
	(void)state;
	assert_string_equal(headline(CMH_KIND_STARTED, CMH_OUTCOME_NONE, NULL),
			    "Pipeline execution started");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_SUCCEEDED, NULL),
			    "Pipeline execution succeeded");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_FAILED, NULL),
			    "Pipeline execution FAILED");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_CANCELLED, NULL),
			    "Pipeline execution cancelled");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_ROLLED_BACK, NULL),
			    "Pipeline execution rolled back");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_UNKNOWN, NULL),
			    "Pipeline execution ended");
	assert_string_equal(headline(CMH_KIND_ENDED, CMH_OUTCOME_NONE, NULL),
			    "Pipeline execution ended");
	assert_string_equal(headline(CMH_KIND_OTHER, CMH_OUTCOME_NONE, NULL), "Cloud Manager event");
	assert_string_equal(headline((enum cmh_event_kind)42, CMH_OUTCOME_NONE, NULL),
			    "Cloud Manager event");
	assert_string_equal(cmh_message_headline(NULL), "Cloud Manager event");
}

static void test_message_headline_steps(void **state)
{
	(void)state;
	assert_string_equal(headline(CMH_KIND_STEP_STARTED, CMH_OUTCOME_NONE, "build"),
			    "Step started: Build & Unit Testing");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_SUCCEEDED, "codeQuality"),
			    "Step ended: Code Quality");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_NONE, "codeQuality"),
			    "Step ended: Code Quality");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_FAILED, "securityTest"),
			    "Step FAILED: Security Testing");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_CANCELLED, "deploy"),
			    "Step cancelled: Deployment");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_ROLLED_BACK, "deploy"),
			    "Step rolled back: Deployment");
	assert_string_equal(headline(CMH_KIND_WAITING, CMH_OUTCOME_NONE, "approval"),
			    "Step waiting: Go-Live approval needed");
	assert_string_equal(headline(CMH_KIND_WAITING, CMH_OUTCOME_NONE, "codeQuality"),
			    "Step waiting: Code Quality needs a decision");
	assert_string_equal(headline(CMH_KIND_WAITING, CMH_OUTCOME_NONE, "schedule"),
			    "Step waiting: deployment schedule needed");
	/* Unknown or missing action: generic words, a waiting step still loud. */
	assert_string_equal(headline(CMH_KIND_STEP_STARTED, CMH_OUTCOME_NONE, "fooBar"),
			    "Step started");
	assert_string_equal(headline(CMH_KIND_STEP_ENDED, CMH_OUTCOME_FAILED, "fooBar"),
			    "Step FAILED");
	assert_string_equal(headline(CMH_KIND_WAITING, CMH_OUTCOME_NONE, NULL),
			    "Step waiting: action needed");
	/* A step kind without has_step ignores the (stale) action. */
	{
		struct cmh_message m = { .kind = CMH_KIND_STEP_STARTED, .has_step = false };

		m.step.action = (char *)"build";
		assert_string_equal(cmh_message_headline(&m), "Step started");
	}
}

static void test_message_every_waiting_headline_is_loud(void **state)
{
	static const char *const actions[] = {
		"validate", "build", "codeQuality", "buildImage", "securityTest", "loadTest",
		"assetsTest", "reportPerformanceTest", "productTest", "functionalTest",
		"contentAudit", "approval", "schedule", "managed", "deploy", "fooBar", NULL,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		const char *h = headline(CMH_KIND_WAITING, CMH_OUTCOME_NONE, actions[i]);

		assert_true(strncmp(h, "Step waiting: ", 14) == 0);
		assert_true(strlen(h) > 14);
	}
}

static void fill_step(struct cmh_message_step *s)
{
	s->action = strdup("deploy");
	s->label = strdup("Deployment");
	s->status = strdup("FAILED");
	s->environment = strdup("acme-stage");
	s->environment_type = strdup("stage");
}

static void test_message_release(void **state)
{
	struct cmh_message m = { .kind = CMH_KIND_ENDED };

	(void)state;
	m.event_id = strdup("e");
	m.program_id = strdup("1");
	m.program_name = strdup("p");
	m.pipeline_id = strdup("2");
	m.pipeline_name = strdup("q");
	m.pipeline_type = strdup("CI_CD");
	m.pipeline_target = strdup("stage, prod");
	m.execution_id = strdup("3");
	m.execution_status = strdup("FAILED");
	m.trigger = strdup("MANUAL");
	m.started_by = strdup("u@AdobeID");
	m.waiting_reason = strdup("r");
	m.link = strdup("https://x");
	m.has_step = m.has_failed_step = true;
	fill_step(&m.step);
	fill_step(&m.failed_step);
	cmh_message_release(&m);
	assert_null(m.event_id);
	assert_null(m.step.action);
	assert_null(m.failed_step.environment_type);
	assert_false(m.has_step);
	/* Releasing again, or NULL, is harmless. */
	cmh_message_release(&m);
	cmh_message_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_action_labels),
		cmocka_unit_test(test_message_outcome_names),
		cmocka_unit_test(test_message_headline_execution),
		cmocka_unit_test(test_message_headline_steps),
		cmocka_unit_test(test_message_every_waiting_headline_is_loud),
		cmocka_unit_test(test_message_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

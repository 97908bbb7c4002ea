/*
 * The words of the message model: headlines, outcome names and the human
 * labels of Cloud Manager step actions (cloudmanager-events.md §5), plus
 * freeing a message. Everything here returns static text so that it can be
 * used from any thread without allocation; composing text that depends on
 * data (an environment type, an unknown action) is the renderers' job
 * (cmh_notify_headline()).
 */
#include "message.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*
 * One row per known step action. The headlines are spelled out by the
 * preprocessor from the label, so that they stay static and cannot drift
 * apart from it. A waiting step must be unmistakable: its headline says
 * what is needed, not merely that the step waits.
 */
#define STEP_ROW(action, label, waiting) { action, label, \
	"Step started: " label, "Step ended: " label, "Step FAILED: " label, \
	"Step cancelled: " label, "Step rolled back: " label, "Step waiting: " waiting }

#define NEEDS_DECISION(label) label " needs a decision"

static const struct step_words {
	const char *action;
	const char *label;
	const char *started, *ended, *failed, *cancelled, *rolled_back, *waiting;
} step_words[] = {
	STEP_ROW("validate", "Validation", NEEDS_DECISION("Validation")),
	STEP_ROW("build", "Build & Unit Testing", NEEDS_DECISION("Build & Unit Testing")),
	/* Metric steps wait when important metrics failed: override or reject. */
	STEP_ROW("codeQuality", "Code Quality", NEEDS_DECISION("Code Quality")),
	STEP_ROW("buildImage", "Build Image", NEEDS_DECISION("Build Image")),
	STEP_ROW("securityTest", "Security Testing", NEEDS_DECISION("Security Testing")),
	STEP_ROW("loadTest", "Performance Testing", NEEDS_DECISION("Performance Testing")),
	STEP_ROW("assetsTest", "Assets Performance Testing",
		 NEEDS_DECISION("Assets Performance Testing")),
	STEP_ROW("reportPerformanceTest", "Performance Test Report",
		 NEEDS_DECISION("Performance Test Report")),
	STEP_ROW("productTest", "Product Functional Testing",
		 NEEDS_DECISION("Product Functional Testing")),
	STEP_ROW("functionalTest", "Custom Functional Testing",
		 NEEDS_DECISION("Custom Functional Testing")),
	STEP_ROW("contentAudit", "Experience Audit", NEEDS_DECISION("Experience Audit")),
	STEP_ROW("approval", "Go-Live Approval", "Go-Live approval needed"),
	STEP_ROW("schedule", "Scheduled Deployment", "deployment schedule needed"),
	STEP_ROW("managed", "CSE Oversight", "CSE Oversight in progress"),
	/* A paused deployment waits for resume or stop. */
	STEP_ROW("deploy", "Deployment", "Deployment paused, needs a decision"),
};

/* For a step whose action is unknown or missing. */
static const struct step_words generic_step = {
	NULL, NULL, "Step started", "Step ended", "Step FAILED", "Step cancelled",
	"Step rolled back", "Step waiting: action needed",
};

#define N_STEP_WORDS (sizeof(step_words) / sizeof(step_words[0]))

static const struct step_words *find_step_words(const char *action)
{
	if (!action)
		return NULL;
	for (size_t i = 0; i < N_STEP_WORDS; i++) {
		if (strcmp(step_words[i].action, action) == 0)
			return &step_words[i];
	}
	return NULL;
}

static void step_release(struct cmh_message_step *s)
{
	free(s->action);
	free(s->label);
	free(s->status);
	free(s->environment);
	free(s->environment_type);
}

void cmh_message_release(struct cmh_message *m)
{
	if (!m)
		return;
	free(m->event_id);
	free(m->program_id);
	free(m->program_name);
	free(m->pipeline_id);
	free(m->pipeline_name);
	free(m->pipeline_type);
	free(m->pipeline_target);
	free(m->execution_id);
	free(m->execution_status);
	free(m->trigger);
	free(m->started_by);
	step_release(&m->step);
	free(m->waiting_reason);
	step_release(&m->failed_step);
	free(m->link);
	memset(m, 0, sizeof(*m));
}

static const char *execution_headline(enum cmh_outcome o)
{
	switch (o) {
	case CMH_OUTCOME_SUCCEEDED: return "Pipeline execution succeeded";
	case CMH_OUTCOME_FAILED: return "Pipeline execution FAILED";
	case CMH_OUTCOME_CANCELLED: return "Pipeline execution cancelled";
	case CMH_OUTCOME_ROLLED_BACK: return "Pipeline execution rolled back";
	default: return "Pipeline execution ended";
	}
}

static const char *step_ended_headline(const struct step_words *w, enum cmh_outcome o)
{
	switch (o) {
	case CMH_OUTCOME_FAILED: return w->failed;
	case CMH_OUTCOME_CANCELLED: return w->cancelled;
	case CMH_OUTCOME_ROLLED_BACK: return w->rolled_back;
	default: return w->ended;
	}
}

const char *cmh_message_headline(const struct cmh_message *m)
{
	const struct step_words *w;

	if (!m)
		return "Cloud Manager event";
	w = m->has_step ? find_step_words(m->step.action) : NULL;
	if (!w)
		w = &generic_step;
	switch (m->kind) {
	case CMH_KIND_STARTED: return "Pipeline execution started";
	case CMH_KIND_ENDED: return execution_headline(m->outcome);
	case CMH_KIND_STEP_STARTED: return w->started;
	case CMH_KIND_WAITING: return w->waiting;
	case CMH_KIND_STEP_ENDED: return step_ended_headline(w, m->outcome);
	default: return "Cloud Manager event";
	}
}

const char *cmh_outcome_name(enum cmh_outcome o)
{
	switch (o) {
	case CMH_OUTCOME_NONE: return "";
	case CMH_OUTCOME_SUCCEEDED: return "succeeded";
	case CMH_OUTCOME_FAILED: return "failed";
	case CMH_OUTCOME_CANCELLED: return "cancelled";
	case CMH_OUTCOME_ROLLED_BACK: return "rolled back";
	default: return "unknown";
	}
}

const char *cmh_step_action_label(const char *action)
{
	const struct step_words *w = find_step_words(action);

	/* Adobe adds actions over time: show an unknown one verbatim. */
	return w ? w->label : action;
}

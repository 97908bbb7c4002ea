/*
 * The message model: what people are told about one Cloud Manager event,
 * independent of the channel. Enrichment (enrich.c) fills it from the event
 * and the Cloud Manager API; the renderers (notify_slack.c, notify_teams.c,
 * notify_webhook.c) turn it into each channel's payload. All strings are
 * heap-owned, UTF-8, and may be NULL when unknown; renderers must cope with
 * every field missing except kind and event_id.
 */
#ifndef CMH_MESSAGE_H
#define CMH_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

/* The outcome people care about, derived from API statuses. */
enum cmh_outcome {
	CMH_OUTCOME_NONE = 0,     /* not finished (started, running, waiting) */
	CMH_OUTCOME_SUCCEEDED,    /* FINISHED */
	CMH_OUTCOME_FAILED,       /* FAILED, ERROR */
	CMH_OUTCOME_CANCELLED,    /* CANCELLED */
	CMH_OUTCOME_ROLLED_BACK,  /* step ROLLED_BACK */
	CMH_OUTCOME_UNKNOWN,      /* ended, but the API shows no terminal status */
};

struct cmh_message_step {
	char *action;             /* raw `action`, e.g. "codeQuality" */
	char *label;              /* in words people use: "Code Quality" (never NULL if action set) */
	char *status;             /* raw step status, e.g. "WAITING" */
	char *environment;        /* environment name */
	char *environment_type;   /* dev, stage, prod, ... */
	int64_t started_ms;       /* -1 when unknown */
	int64_t finished_ms;      /* -1 when unknown */
};

struct cmh_message {
	enum cmh_event_kind kind;
	char *event_id;
	int64_t published_ms;     /* activitystreams:published, -1 when unknown */

	char *program_id, *program_name;
	char *pipeline_id, *pipeline_name;
	char *pipeline_type;      /* CI_CD, CODE_GENERATOR, ... (open string) */
	char *pipeline_target;    /* e.g. "stage, prod" from the pipeline's deploy phases, or buildTarget */
	char *execution_id;
	char *execution_status;   /* raw: RUNNING, FINISHED, FAILED, ... */
	char *trigger;            /* ON_COMMIT, MANUAL, PUSH_UPGRADES */
	char *started_by;         /* execution `user` (IMS id), NULL for automatic runs */
	int64_t started_ms;       /* execution createdAt, -1 when unknown */
	int64_t finished_ms;      /* execution finishedAt, -1 when unknown */
	int64_t duration_ms;      /* finished - started for ended executions/steps, -1 otherwise */
	enum cmh_outcome outcome;

	bool has_step;            /* step kinds: the step the event is about */
	struct cmh_message_step step;
	bool needs_action;        /* a step waiting for a human: approval, override, schedule */
	char *waiting_reason;     /* e.g. "Go-Live approval", "important metrics failed" */

	bool has_failed_step;     /* execution ended with a failure: the step that failed */
	struct cmh_message_step failed_step;

	char *link;               /* deep link to the execution in the Cloud Manager UI */
};

void cmh_message_release(struct cmh_message *m);

/* "Pipeline execution started", "Step waiting for approval", ... (static). */
const char *cmh_message_headline(const struct cmh_message *m);
/* "succeeded", "failed", "cancelled", "rolled back", "unknown", "" (static). */
const char *cmh_outcome_name(enum cmh_outcome o);
/* Human label for a step action; falls back to the raw action (static or action itself). */
const char *cmh_step_action_label(const char *action);

#endif

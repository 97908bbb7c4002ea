/*
 * Enrichment owns the walk from an event's object URL to a struct
 * cmh_message: which resources to fetch (cloudmanager-api.md §12), how HAL
 * links are followed without ever leaving the configured API origin, how
 * HTTP statuses become cmh_err codes, and how API statuses become outcomes.
 * It keeps a small TTL cache of program and pipeline bodies. Tokens and the
 * origin check of each request are cmapi.c's; JSON shapes are resource.c's.
 */
#include "enrich.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cmapi.h"
#include "config.h"
#include "http_client.h"
#include "log.h"
#include "message.h"
#include "resource.h"
#include "url.h"
#include "webhook.h"

#define URL_MAX      (CMH_BUF_MAX_SMALL * 2)
#define ID_MAX       20   /* digits per id, as cmh_webhook_object_url_ok() allows */
#define DEEP_LINK_BASE "https://experience.adobe.com/#/"

/* Concurrent cache fills tracked at once; beyond that a thread just fetches. */
#define ENRICH_MAX_FLIGHTS 16

struct cache_entry {
	char *url;
	char *body;
	size_t len;
	int64_t expires_ms;
};

struct cmh_enricher {
	const struct cmh_config *cfg;
	struct cmh_ims *ims;
	cmh_clock_fn clock;
	void *clock_ud;
	pthread_mutex_t mu;           /* guards cache, n_cache, flights and stats */
	pthread_cond_t flight_done;   /* broadcast when a cacheable fetch ends */
	struct cache_entry cache[CMH_ENRICH_CACHE_MAX_ENTRIES];
	size_t n_cache;
	char *flights[ENRICH_MAX_FLIGHTS];   /* URLs being fetched for the cache right now */
	struct cmh_enrich_stats stats;
};

/* The ids of a validated object URL (decimal digits only). */
struct object_ids {
	char program[ID_MAX + 1];
	char pipeline[ID_MAX + 1];
	char execution[ID_MAX + 1];
};

/* Everything one cmh_enrich() call fetched and parsed. */
struct job {
	struct cmh_enricher *e;
	enum cmh_event_kind kind;
	struct object_ids ids;
	char *obj_body;             /* the object the event is about */
	size_t obj_len;
	struct cmh_step_state step; /* step kinds */
	struct cmh_execution exec;
	struct cmh_program prog;
	struct cmh_pipeline pipe;
};

static void lock(struct cmh_enricher *e)
{
	if (pthread_mutex_lock(&e->mu) != 0)
		CMH_BUG("enricher mutex lock failed");
}

static void unlock(struct cmh_enricher *e)
{
	if (pthread_mutex_unlock(&e->mu) != 0)
		CMH_BUG("enricher mutex unlock failed");
}

enum cmh_err cmh_enricher_new(const struct cmh_config *cfg, struct cmh_ims *ims,
	cmh_clock_fn clock, void *clock_ud, struct cmh_enricher **ret)
{
	struct cmh_enricher *e = calloc(1, sizeof(*e));

	if (!e)
		return CMH_ERR_NOMEM;
	if (pthread_mutex_init(&e->mu, NULL) != 0) {
		free(e);
		return CMH_ERR_INTERNAL;
	}
	if (pthread_cond_init(&e->flight_done, NULL) != 0) {
		pthread_mutex_destroy(&e->mu);
		free(e);
		return CMH_ERR_INTERNAL;
	}
	e->cfg = cfg;
	e->ims = ims;
	e->clock = clock ? clock : cmh_clock_realtime_ms;
	e->clock_ud = clock_ud;
	*ret = e;
	return CMH_OK;
}

static void entry_release(struct cache_entry *c)
{
	free(c->url);
	free(c->body);
	memset(c, 0, sizeof(*c));
}

void cmh_enricher_free(struct cmh_enricher *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_cache; i++)
		entry_release(&e->cache[i]);
	for (size_t i = 0; i < ENRICH_MAX_FLIGHTS; i++)
		free(e->flights[i]);
	pthread_cond_destroy(&e->flight_done);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void cmh_enricher_stats(struct cmh_enricher *e, struct cmh_enrich_stats *ret)
{
	lock(e);
	*ret = e->stats;
	unlock(e);
}

void cmh_enricher_clear_cache(struct cmh_enricher *e)
{
	lock(e);
	for (size_t i = 0; i < e->n_cache; i++)
		entry_release(&e->cache[i]);
	e->n_cache = 0;
	unlock(e);
}

/* ---- cache -------------------------------------------------------------- */

/* With e->mu held: a copy of the fresh cached body of url, or false. */
static bool cache_lookup(struct cmh_enricher *e, const char *url, char **ret_body,
			 size_t *ret_len)
{
	int64_t now = e->clock(e->clock_ud);
	char *copy = NULL;
	size_t i;

	for (i = 0; i < e->n_cache; i++) {
		if (strcmp(e->cache[i].url, url) == 0 && now < e->cache[i].expires_ms)
			break;
	}
	if (i < e->n_cache) {
		copy = malloc(e->cache[i].len + 1);
		if (copy) {
			memcpy(copy, e->cache[i].body, e->cache[i].len + 1);
			*ret_len = e->cache[i].len;
		}
	}
	*ret_body = copy;
	return copy != NULL;
}

static char **find_flight(struct cmh_enricher *e, const char *url)
{
	for (size_t i = 0; i < ENRICH_MAX_FLIGHTS; i++)
		if (e->flights[i] && strcmp(e->flights[i], url) == 0)
			return &e->flights[i];
	return NULL;
}

/*
 * The cached body of url (true), or false with *ret_leader telling whether
 * this thread now fetches it for everyone (call flight_end() afterwards).
 * While another thread fetches url we wait for it rather than sending the
 * same request: a burst of events for one program costs one program fetch.
 */
static bool cache_get_or_lead(struct cmh_enricher *e, const char *url, char **ret_body,
			      size_t *ret_len, bool *ret_leader)
{
	bool hit;
	char **slot;

	*ret_leader = false;
	lock(e);
	while (!(hit = cache_lookup(e, url, ret_body, ret_len)) && find_flight(e, url))
		pthread_cond_wait(&e->flight_done, &e->mu);
	if (hit) {
		e->stats.cache_hits++;
	} else {
		e->stats.cache_misses++;
		slot = NULL;
		for (size_t i = 0; i < ENRICH_MAX_FLIGHTS && !slot; i++)
			if (!e->flights[i])
				slot = &e->flights[i];
		if (slot && (*slot = strdup(url)) != NULL)
			*ret_leader = true;
	}
	unlock(e);
	return hit;
}

/* The leader's fetch ended (cached or failed): wake the waiters. */
static void flight_end(struct cmh_enricher *e, const char *url)
{
	char **slot;

	lock(e);
	slot = find_flight(e, url);
	if (slot) {
		free(*slot);
		*slot = NULL;
	}
	pthread_cond_broadcast(&e->flight_done);
	unlock(e);
}

/* The slot for url: its old entry, a free one, else an expired or the
 * soonest-expiring one (the table is small; a scan is cheaper than a heap). */
static size_t cache_slot(struct cmh_enricher *e, const char *url)
{
	size_t i, victim = 0;

	for (i = 0; i < e->n_cache; i++) {
		if (strcmp(e->cache[i].url, url) == 0)
			return i;
		if (e->cache[i].expires_ms < e->cache[victim].expires_ms)
			victim = i;
	}
	if (e->n_cache < CMH_ENRICH_CACHE_MAX_ENTRIES)
		return e->n_cache++;
	return victim;
}

/* Remember a body that parsed; failures to do so only cost a later request. */
static void cache_put(struct cmh_enricher *e, const char *url, const char *body, size_t len)
{
	struct cache_entry c = { 0 };
	size_t slot;

	if (len > CMH_ENRICH_CACHE_MAX_BODY)
		return;
	c.url = strdup(url);
	c.body = malloc(len + 1);
	if (!c.url || !c.body) {
		entry_release(&c);
		return;
	}
	memcpy(c.body, body, len);
	c.body[len] = '\0';
	c.len = len;
	c.expires_ms = e->clock(e->clock_ud) + CMH_ENRICH_CACHE_TTL_MS;
	lock(e);
	slot = cache_slot(e, url);
	entry_release(&e->cache[slot]);
	e->cache[slot] = c;
	unlock(e);
}

/* ---- requests ----------------------------------------------------------- */

/* What an HTTP status means for the resource `what` (the response arrived). */
static enum cmh_err status_err(const struct cmh_http_response *r, const char *what,
	struct cmh_buf *errmsg)
{
	enum cmh_err err;

	if (r->status >= 200 && r->status < 300)
		return CMH_OK;
	switch (r->status) {
	case 404:
		cmh_errf(errmsg, "%s not found (404)", what);
		return CMH_ERR_NOT_FOUND;
	case 401:
		cmh_errf(errmsg, "%s: the API refused a freshly issued token (401); check "
			 "CLIENT_ID/API_KEY and ORGANIZATION_ID", what);
		return CMH_ERR_AUTH;
	case 403:
		cmh_errf(errmsg, "%s: access denied (403); the credential's product profile needs "
			 "read access to Cloud Manager (e.g. Developer) request_id=%s", what,
			 cmh_q(r->request_id));
		return CMH_ERR_AUTH;
	default:
		err = cmh_http_status_err(r->status);
		cmh_errf(errmsg, "%s: API answered %ld request_id=%s", what, r->status,
			 cmh_q(r->request_id));
		return err;
	}
}

/* GET url (already on the API origin) and hand over the 2xx body. */
static enum cmh_err fetch(struct cmh_enricher *e, const char *url, const char *what,
	char **ret_body, size_t *ret_len, struct cmh_buf *errmsg)
{
	struct cmh_http_response resp;
	enum cmh_err err;

	cmh_http_response_init(&resp);
	lock(e);
	e->stats.api_requests++;
	unlock(e);
	err = cmh_cmapi_call(e->cfg, e->ims, NULL, url, NULL, 0, &resp, errmsg);
	if (!err)
		err = status_err(&resp, what, errmsg);
	if (!err) {
		*ret_body = cmh_buf_detach(&resp.body, ret_len);
		if (!*ret_body)
			err = CMH_ERR_NOMEM;
	}
	cmh_http_response_release(&resp);
	return err;
}

/*
 * The URL of `rel` in a resource body: its href resolved against the
 * configured base (another origin: CMH_ERR_FORBIDDEN), or, when the link is
 * absent or unusable, derived_path on the base (recipe §12.3; the ids in it
 * come from the validated object URL).
 */
static enum cmh_err link_url(struct cmh_enricher *e, const char *body, size_t len,
	const char *rel, const char *derived_path, struct cmh_buf *out, struct cmh_buf *errmsg)
{
	const char *base = e->cfg->cloudmanager_api_url;
	char *href = NULL;
	enum cmh_err err;

	err = body ? cmh_resource_link(body, len, rel, &href, NULL) : CMH_ERR_NOT_FOUND;
	if (err == CMH_ERR_NOMEM)
		return err;
	if (err) {
		cmh_log(CMH_LOG_DEBUG, "enrich", "link unusable, deriving the URL", "rel=%s err=%s",
			cmh_q(rel), cmh_q(cmh_strerror(err)));
		err = cmh_url_resolve(base, derived_path, out, errmsg);
		return err == CMH_ERR_NOMEM ? err : err ? CMH_ERR_CONFIG : CMH_OK;
	}
	err = cmh_url_resolve(base, href, out, errmsg);
	free(href);
	if (err && err != CMH_ERR_NOMEM) {
		cmh_errf(errmsg, "link %s refused: it does not point to the configured API origin",
			 rel);
		err = CMH_ERR_FORBIDDEN;
	}
	return err;
}

/* ---- the resources ------------------------------------------------------ */

static void copy_id(char dst[ID_MAX + 1], const char *p, size_t n)
{
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Split a URL that passed cmh_webhook_object_url_ok() into its ids. */
static void object_ids(const char *base, const char *url, struct object_ids *ids)
{
	static const char *const seg[] = { "/api/program/", "/pipeline/", "/execution/" };
	char *dst[] = { ids->program, ids->pipeline, ids->execution };
	size_t blen = strlen(base);
	const char *p;

	if (blen > 0 && base[blen - 1] == '/')
		blen--;
	p = url + blen;
	for (size_t i = 0; i < 3; i++) {
		size_t n;

		p += strlen(seg[i]);
		n = strspn(p, "0123456789");
		copy_id(dst[i], p, n);
		p += n;
	}
}

static enum cmh_err derived_path(const struct object_ids *ids, int depth, struct cmh_buf *out)
{
	cmh_buf_reset(out);
	if (depth == 0)
		return cmh_buf_addf(out, "/api/program/%s", ids->program);
	if (depth == 1)
		return cmh_buf_addf(out, "/api/program/%s/pipeline/%s", ids->program, ids->pipeline);
	return cmh_buf_addf(out, "/api/program/%s/pipeline/%s/execution/%s", ids->program,
			    ids->pipeline, ids->execution);
}

/* Follow rel from the job's object body to the url the caller fetches. */
static enum cmh_err follow(struct job *j, const char *rel, int depth, struct cmh_buf *url,
	struct cmh_buf *errmsg)
{
	struct cmh_buf path;
	enum cmh_err err;

	cmh_buf_init(&path, URL_MAX);
	err = derived_path(&j->ids, depth, &path);
	if (!err)
		err = link_url(j->e, j->obj_body, j->obj_len, rel, path.data, url, errmsg);
	cmh_buf_release(&path);
	return err;
}

/* Parse a program or pipeline body into the job. */
typedef enum cmh_err (*parse_fn)(struct job *j, const char *body, size_t len,
				 struct cmh_buf *errmsg);

static enum cmh_err parse_program(struct job *j, const char *body, size_t len,
				  struct cmh_buf *errmsg)
{
	return cmh_resource_parse_program(body, len, &j->prog, errmsg);
}

static enum cmh_err parse_pipeline(struct job *j, const char *body, size_t len,
				   struct cmh_buf *errmsg)
{
	return cmh_resource_parse_pipeline(body, len, &j->pipe, errmsg);
}

/* Program and pipeline: from the cache, or fetched once however many workers ask. */
static enum cmh_err get_cached_resource(struct job *j, const char *rel, int depth,
					const char *what, parse_fn parse, struct cmh_buf *errmsg)
{
	struct cmh_buf url;
	char *body = NULL;
	size_t len = 0;
	bool hit, leader = false;
	enum cmh_err err;

	cmh_buf_init(&url, URL_MAX);
	err = follow(j, rel, depth, &url, errmsg);
	if (err)
		goto out;
	hit = cache_get_or_lead(j->e, url.data, &body, &len, &leader);
	if (!hit)
		err = fetch(j->e, url.data, what, &body, &len, errmsg);
	if (!err)
		err = parse(j, body, len, errmsg);
	if (!err && !hit)
		cache_put(j->e, url.data, body, len);
	if (leader)
		flight_end(j->e, url.data);
out:
	free(body);
	cmh_buf_release(&url);
	return err;
}

static enum cmh_err get_program(struct job *j, struct cmh_buf *errmsg)
{
	return get_cached_resource(j, CMH_REL_PROGRAM, 0, "program", parse_program, errmsg);
}

static enum cmh_err get_pipeline(struct job *j, struct cmh_buf *errmsg)
{
	return get_cached_resource(j, CMH_REL_PIPELINE, 1, "pipeline", parse_pipeline, errmsg);
}

/* The execution of a step event, which the step state links to. */
static enum cmh_err get_execution_of_step(struct job *j, struct cmh_buf *errmsg)
{
	struct cmh_buf url;
	char *body = NULL;
	size_t len = 0;
	enum cmh_err err;

	cmh_buf_init(&url, URL_MAX);
	err = follow(j, CMH_REL_EXECUTION, 2, &url, errmsg);
	if (!err)
		err = fetch(j->e, url.data, "execution", &body, &len, errmsg);
	if (!err)
		err = cmh_resource_parse_execution(body, len, &j->exec, errmsg);
	free(body);
	cmh_buf_release(&url);
	return err;
}

/* ---- statuses ----------------------------------------------------------- */

static bool str_in(const char *s, const char *const *set)
{
	for (; s && *set; set++) {
		if (strcmp(s, *set) == 0)
			return true;
	}
	return false;
}

/*
 * Statuses that will still change (§7, §8). Unknown or missing statuses are
 * not in here: waiting cannot make sense of them, so they give "unknown".
 */
static bool still_running(enum cmh_event_kind kind, const char *status)
{
	static const char *const exec[] = { "NOT_STARTED", "RUNNING", "CANCELLING", NULL };
	static const char *const step[] = { "NOT_STARTED", "RUNNING", "ROLLING_BACK", "WAITING",
					    NULL };

	return str_in(status, kind == CMH_KIND_ENDED ? exec : step);
}

static enum cmh_outcome outcome_of(const char *status)
{
	static const char *const failed[] = { "FAILED", "ERROR", NULL };

	if (!status)
		return CMH_OUTCOME_UNKNOWN;
	if (strcmp(status, "FINISHED") == 0)
		return CMH_OUTCOME_SUCCEEDED;
	if (str_in(status, failed))
		return CMH_OUTCOME_FAILED;
	if (strcmp(status, "CANCELLED") == 0)
		return CMH_OUTCOME_CANCELLED;
	if (strcmp(status, "ROLLED_BACK") == 0)
		return CMH_OUTCOME_ROLLED_BACK;
	return CMH_OUTCOME_UNKNOWN;
}

/* An "ended" event that the API does not show as ended yet: retry later
 * (events can overtake the state, §12), or report "unknown" when settling. */
static enum cmh_err check_settled(enum cmh_event_kind kind, const char *status, bool settle,
	struct cmh_buf *errmsg)
{
	if ((kind != CMH_KIND_ENDED && kind != CMH_KIND_STEP_ENDED) || settle ||
	    !still_running(kind, status))
		return CMH_OK;
	cmh_errf(errmsg, "%s still %s", kind == CMH_KIND_ENDED ? "execution" : "step", status);
	return CMH_ERR_UNAVAILABLE;
}

/* Why a waiting step waits, by action (cloudmanager-events.md §5). */
static const char *waiting_reason(const char *action)
{
	static const char *const metrics[] = { "codeQuality", "securityTest", "loadTest",
					       "assetsTest", "reportPerformanceTest", NULL };

	if (!action)
		return "waiting for input";
	if (strcmp(action, "approval") == 0)
		return "Go-Live approval";
	if (strcmp(action, "schedule") == 0)
		return "production deployment to be scheduled";
	if (strcmp(action, "managed") == 0)
		return "CSE oversight";
	if (str_in(action, metrics))
		return "important metrics failed: override or reject";
	if (strcmp(action, "deploy") == 0)
		return "paused deployment: resume or stop";
	return "waiting for input";
}

/* ---- the message -------------------------------------------------------- */

/* Move a string out of a parsed resource into the message. */
static char *take(char **p)
{
	char *s = *p;

	*p = NULL;
	return s;
}

static enum cmh_err dup_or_null(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return (s && !*ret) ? CMH_ERR_NOMEM : CMH_OK;
}

static int64_t span(int64_t from, int64_t to)
{
	return (from >= 0 && to >= from) ? to - from : -1;
}

static enum cmh_err fill_step(struct cmh_message_step *dst, struct cmh_step_state *s)
{
	dst->started_ms = s->started_ms;
	dst->finished_ms = s->finished_ms;
	dst->status = take(&s->status);
	dst->environment = take(&s->environment);
	dst->environment_type = take(&s->environment_type);
	dst->action = take(&s->action);
	return dst->action ? dup_or_null(cmh_step_action_label(dst->action), &dst->label) : CMH_OK;
}

/* A tenant id goes into a URL: only plain name characters, else leave it out. */
static bool tenant_ok(const char *t)
{
	return t && *t && strlen(t) <= 64 &&
	       t[strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")] == '\0';
}

/* The execution page in the Cloud Manager UI (cloudmanager-api.md §13). */
static enum cmh_err deep_link(const struct object_ids *ids, const char *tenant, char **ret)
{
	struct cmh_buf b;
	enum cmh_err err;

	cmh_buf_init(&b, URL_MAX);
	err = cmh_buf_adds(&b, DEEP_LINK_BASE);
	if (!err && tenant_ok(tenant))
		err = cmh_buf_addf(&b, "@%s/", tenant);
	if (!err)
		err = cmh_buf_addf(&b, "cloud-manager/pipelineexecution.html/program/%s/pipeline/%s"
				   "/execution/%s", ids->program, ids->pipeline, ids->execution);
	if (!err) {
		*ret = cmh_buf_detach(&b, NULL);
		if (!*ret)
			err = CMH_ERR_NOMEM;
	}
	cmh_buf_release(&b);
	return err;
}

static enum cmh_err fill_failed_step(struct job *j, struct cmh_message *m)
{
	static const char *const failed[] = { "FAILED", "ERROR", NULL };

	for (size_t i = 0; i < j->exec.n_steps; i++) {
		if (str_in(j->exec.steps[i].status, failed)) {
			m->has_failed_step = true;
			return fill_step(&m->failed_step, &j->exec.steps[i]);
		}
	}
	return CMH_OK;
}

/* The parts that depend on the kind: outcome, duration, step, waiting. */
static enum cmh_err fill_kind(struct job *j, struct cmh_message *m)
{
	enum cmh_err err = CMH_OK;

	if (j->kind == CMH_KIND_ENDED) {
		m->outcome = outcome_of(j->exec.status);
		m->duration_ms = span(j->exec.created_ms, j->exec.finished_ms);
		if (m->outcome == CMH_OUTCOME_FAILED)
			err = fill_failed_step(j, m);
		return err;
	}
	if (!cmh_event_kind_is_step(j->kind))
		return CMH_OK;
	if (j->kind == CMH_KIND_STEP_ENDED) {
		m->outcome = outcome_of(j->step.status);
		m->duration_ms = span(j->step.started_ms, j->step.finished_ms);
	}
	if (j->kind == CMH_KIND_WAITING) {
		/* The event says a human is needed; the API state may already have
		 * moved on, and we report what the event says (§12 timing). */
		m->needs_action = true;
		err = dup_or_null(waiting_reason(j->step.action), &m->waiting_reason);
	}
	m->has_step = true;
	return err ? err : fill_step(&m->step, &j->step);
}

static enum cmh_err fill_message(struct job *j, struct cmh_message *m)
{
	enum cmh_err err;

	/* First, while the statuses are still in the parsed resources. */
	err = fill_kind(j, m);
	if (err)
		return err;
	m->program_name = take(&j->prog.name);
	m->pipeline_name = take(&j->pipe.name);
	m->pipeline_type = take(&j->pipe.type);
	m->pipeline_target = j->pipe.deploy_targets ? take(&j->pipe.deploy_targets)
						    : take(&j->pipe.build_target);
	m->execution_status = take(&j->exec.status);
	m->trigger = j->exec.trigger ? take(&j->exec.trigger) : take(&j->pipe.trigger);
	m->started_by = take(&j->exec.user);
	m->started_ms = j->exec.created_ms;
	m->finished_ms = j->exec.finished_ms;
	err = dup_or_null(j->ids.program, &m->program_id);
	if (!err)
		err = dup_or_null(j->ids.pipeline, &m->pipeline_id);
	if (!err)
		err = dup_or_null(j->ids.execution, &m->execution_id);
	if (!err)
		err = deep_link(&j->ids, j->prog.tenant_id, &m->link);
	return err;
}

/* ---- the walk ----------------------------------------------------------- */

static enum cmh_err fetch_object(struct job *j, const char *object_url, struct cmh_buf *errmsg)
{
	bool step = cmh_event_kind_is_step(j->kind);
	const char *what = step ? "step state" : "execution";
	enum cmh_err err;

	err = fetch(j->e, object_url, what, &j->obj_body, &j->obj_len, errmsg);
	if (err)
		return err;
	if (step)
		return cmh_resource_parse_step_state(j->obj_body, j->obj_len, &j->step, errmsg);
	return cmh_resource_parse_execution(j->obj_body, j->obj_len, &j->exec, errmsg);
}

static enum cmh_err walk(struct job *j, const char *object_url, bool settle,
	struct cmh_buf *errmsg)
{
	enum cmh_err err;

	err = fetch_object(j, object_url, errmsg);
	if (err)
		return err;
	/* Decide about "not ended yet" before spending more requests. */
	if (cmh_event_kind_is_step(j->kind)) {
		err = check_settled(j->kind, j->step.status, settle, errmsg);
		if (!err)
			err = get_execution_of_step(j, errmsg);
	} else {
		err = check_settled(j->kind, j->exec.status, settle, errmsg);
	}
	if (!err)
		err = get_program(j, errmsg);
	if (!err)
		err = get_pipeline(j, errmsg);
	return err;
}

static void job_release(struct job *j)
{
	free(j->obj_body);
	cmh_step_state_release(&j->step);
	cmh_execution_release(&j->exec);
	cmh_program_release(&j->prog);
	cmh_pipeline_release(&j->pipe);
}

enum cmh_err cmh_enrich(struct cmh_enricher *e, enum cmh_event_kind kind, const char *event_id,
	const char *object_url, int64_t published_ms, bool settle, struct cmh_message *ret,
	struct cmh_buf *errmsg)
{
	struct job j = { .e = e, .kind = kind };
	struct cmh_message m = { .kind = kind, .published_ms = published_ms, .started_ms = -1,
				 .finished_ms = -1, .duration_ms = -1 };
	enum cmh_err err;

	if (!e || !event_id || kind == CMH_KIND_OTHER || (unsigned)kind > CMH_KIND_OTHER) {
		cmh_errf(errmsg, "not a Cloud Manager event");
		return CMH_ERR_USAGE;
	}
	/* DESIGN invariant 3: nothing, not even a token request, for a URL that
	 * is not exactly an object URL on the configured API base. */
	if (!cmh_webhook_object_url_ok(e->cfg->cloudmanager_api_url, kind, object_url)) {
		cmh_errf(errmsg, "untrusted origin");
		return CMH_ERR_FORBIDDEN;
	}
	object_ids(e->cfg->cloudmanager_api_url, object_url, &j.ids);
	err = walk(&j, object_url, settle, errmsg);
	if (!err)
		err = dup_or_null(event_id, &m.event_id);
	if (!err)
		err = fill_message(&j, &m);
	job_release(&j);
	if (err) {
		cmh_message_release(&m);
		return err;
	}
	*ret = m;
	return CMH_OK;
}

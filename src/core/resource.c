/*
 * Cloud Manager resource parsing with jansson. Every accessor tolerates
 * missing or mistyped fields: Adobe adds fields and enum values over time,
 * and a notifier must degrade to "unknown" rather than fail.
 */
#include "resource.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define MAX_PROGRAMS 10000

static char *dup_string_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return strdup(json_is_string(v) ? json_string_value(v) : "");
}

enum cmh_err cmh_resource_parse_program_list(const char *body, size_t len,
					     struct cmh_program_list *ret, struct cmh_buf *errmsg)
{
	struct cmh_program_list l = { 0 };
	json_error_t jerr;
	json_t *root, *arr, *item, *total;
	enum cmh_err err = CMH_OK;
	size_t i;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		cmh_errf(errmsg, "program list is not a JSON object");
		err = CMH_ERR_PARSE;
		goto out;
	}
	arr = json_object_get(json_object_get(root, "_embedded"), "programs");
	if (arr && !json_is_array(arr)) {
		cmh_errf(errmsg, "program list: _embedded.programs is not an array");
		err = CMH_ERR_PARSE;
		goto out;
	}
	l.items = calloc(json_array_size(arr) + 1, sizeof(*l.items));
	if (!l.items) {
		err = CMH_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(arr, i, item) {
		if (l.n == MAX_PROGRAMS)
			break;
		if (!json_is_object(item))
			continue;
		l.items[l.n].id = dup_string_field(item, "id");
		l.items[l.n].name = dup_string_field(item, "name");
		if (!l.items[l.n].id || !l.items[l.n].name) {
			l.n++;
			err = CMH_ERR_NOMEM;
			goto out;
		}
		l.n++;
	}
	total = json_object_get(root, "_totalNumberOfItems");
	l.total = json_is_integer(total) ? (long)json_integer_value(total) : (long)l.n;
out:
	json_decref(root);
	if (err)
		cmh_program_list_release(&l);
	else
		*ret = l;
	return err;
}

void cmh_program_list_release(struct cmh_program_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].id);
		free(l->items[i].name);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* ---- single resources --------------------------------------------------- */

/*
 * A copy of untrusted API text fit for messages: at most
 * CMH_RESOURCE_MAX_TEXT bytes, cut where no UTF-8 sequence is split (jansson
 * has already rejected invalid UTF-8), control characters turned into
 * spaces so that a name cannot break a chat line or a log line. NULL for "".
 */
static enum cmh_err dup_text(const char *s, char **ret)
{
	size_t n = strlen(s);
	char *d;

	*ret = NULL;
	if (n == 0)
		return CMH_OK;
	if (n > CMH_RESOURCE_MAX_TEXT) {
		n = CMH_RESOURCE_MAX_TEXT;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	d = malloc(n + 1);
	if (!d)
		return CMH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		d[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	d[n] = '\0';
	*ret = d;
	return CMH_OK;
}

/* obj[key] as text (see dup_text); NULL when missing or not a string. */
static enum cmh_err text_field(const json_t *obj, const char *key, char **ret)
{
	const json_t *v = json_object_get(obj, key);

	*ret = NULL;
	return json_is_string(v) ? dup_text(json_string_value(v), ret) : CMH_OK;
}

/* obj[key] as epoch milliseconds; -1 when missing, mistyped or unparseable. */
static int64_t time_field(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	int64_t ms;

	if (!json_is_string(v) || cmh_parse_time_ms(json_string_value(v), &ms) != CMH_OK)
		return -1;
	return ms;
}

static json_t *load_object(const char *body, size_t len, const char *what, struct cmh_buf *errmsg)
{
	json_error_t jerr;
	json_t *root = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;

	if (!root) {
		cmh_errf(errmsg, "%s: invalid JSON: %s", what, body ? jerr.text : "no body");
		return NULL;
	}
	if (!json_is_object(root)) {
		cmh_errf(errmsg, "%s is not a JSON object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

static enum cmh_err program_from(const json_t *o, struct cmh_program *p)
{
	enum cmh_err err;

	err = text_field(o, "id", &p->id);
	if (!err)
		err = text_field(o, "name", &p->name);
	if (!err)
		err = text_field(o, "tenantId", &p->tenant_id);
	return err;
}

enum cmh_err cmh_resource_parse_program(const char *body, size_t len, struct cmh_program *ret,
	struct cmh_buf *errmsg)
{
	struct cmh_program p = { 0 };
	json_t *root = load_object(body, len, "program", errmsg);
	enum cmh_err err;

	if (!root)
		return CMH_ERR_PARSE;
	err = program_from(root, &p);
	json_decref(root);
	if (err) {
		cmh_program_release(&p);
		return err;
	}
	*ret = p;
	return CMH_OK;
}

void cmh_program_release(struct cmh_program *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->name);
	free(p->tenant_id);
	memset(p, 0, sizeof(*p));
}

/* Append one environment type to the ", "-joined list unless already there. */
static enum cmh_err add_target(struct cmh_buf *list, const char *type)
{
	const char *p = list->data;
	size_t n = strlen(type);

	while (*p) {
		const char *end = strstr(p, ", ");
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, type, n) == 0)
			return CMH_OK;
		p += len + (end ? 2 : 0);
	}
	/* All or nothing, so a full list never ends in a dangling ", ". */
	if (list->len + 2 + n > list->max)
		return CMH_ERR_TOO_LARGE;
	if (list->len > 0 && cmh_buf_adds(list, ", ") != CMH_OK)
		return CMH_ERR_NOMEM;
	return cmh_buf_adds(list, type);
}

static enum cmh_err deploy_targets(const json_t *phases, char **ret)
{
	struct cmh_buf list;
	const json_t *ph;
	enum cmh_err err = CMH_OK;
	size_t i;

	*ret = NULL;
	cmh_buf_init(&list, CMH_RESOURCE_MAX_TEXT);
	json_array_foreach(phases, i, ph) {
		const json_t *type = json_object_get(ph, "type");
		char *env = NULL;

		if (!json_is_string(type) || strcmp(json_string_value(type), "DEPLOY") != 0)
			continue;
		err = text_field(ph, "environmentType", &env);
		if (err)
			break;
		err = env ? add_target(&list, env) : CMH_OK;
		free(env);
		/* A list longer than the text cap stops growing: it is display text. */
		if (err == CMH_ERR_TOO_LARGE)
			err = CMH_OK;
		else if (!err)
			continue;
		break;
	}
	if (!err && list.len > 0) {
		*ret = cmh_buf_detach(&list, NULL);
		if (!*ret)
			err = CMH_ERR_NOMEM;
	}
	cmh_buf_release(&list);
	return err;
}

enum cmh_err cmh_resource_parse_pipeline(const char *body, size_t len, struct cmh_pipeline *ret,
	struct cmh_buf *errmsg)
{
	struct cmh_pipeline p = { 0 };
	json_t *root = load_object(body, len, "pipeline", errmsg);
	enum cmh_err err;

	if (!root)
		return CMH_ERR_PARSE;
	err = text_field(root, "id", &p.id);
	if (!err)
		err = text_field(root, "name", &p.name);
	if (!err)
		err = text_field(root, "type", &p.type);
	if (!err)
		err = text_field(root, "trigger", &p.trigger);
	if (!err)
		err = text_field(root, "buildTarget", &p.build_target);
	if (!err)
		err = deploy_targets(json_object_get(root, "phases"), &p.deploy_targets);
	json_decref(root);
	if (err) {
		cmh_pipeline_release(&p);
		return err;
	}
	*ret = p;
	return CMH_OK;
}

void cmh_pipeline_release(struct cmh_pipeline *p)
{
	if (!p)
		return;
	free(p->id);
	free(p->name);
	free(p->type);
	free(p->trigger);
	free(p->build_target);
	free(p->deploy_targets);
	memset(p, 0, sizeof(*p));
}

/* details.input as compact ASCII JSON, dropped when longer than the text cap
 * (cut JSON would be wrong JSON). */
static enum cmh_err input_json(const json_t *step, char **ret)
{
	const json_t *in = json_object_get(json_object_get(step, "details"), "input");
	char *s;

	*ret = NULL;
	if (!in || json_is_null(in))
		return CMH_OK;
	s = json_dumps(in, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	if (!s)
		return CMH_ERR_NOMEM;
	if (strlen(s) > CMH_RESOURCE_MAX_TEXT)
		free(s);
	else
		*ret = s;
	return CMH_OK;
}

static enum cmh_err step_from(const json_t *o, struct cmh_step_state *s)
{
	enum cmh_err err;

	s->started_ms = time_field(o, "startedAt");
	s->finished_ms = time_field(o, "finishedAt");
	err = text_field(o, "action", &s->action);
	if (!err)
		err = text_field(o, "status", &s->status);
	if (!err)
		err = text_field(o, "environment", &s->environment);
	if (!err)
		err = text_field(o, "environmentType", &s->environment_type);
	if (!err)
		err = input_json(o, &s->input_json);
	return err;
}

enum cmh_err cmh_resource_parse_step_state(const char *body, size_t len, struct cmh_step_state *ret,
	struct cmh_buf *errmsg)
{
	struct cmh_step_state s = { 0 };
	json_t *root = load_object(body, len, "step state", errmsg);
	enum cmh_err err;

	if (!root)
		return CMH_ERR_PARSE;
	err = step_from(root, &s);
	json_decref(root);
	if (err) {
		cmh_step_state_release(&s);
		return err;
	}
	*ret = s;
	return CMH_OK;
}

void cmh_step_state_release(struct cmh_step_state *s)
{
	if (!s)
		return;
	free(s->action);
	free(s->status);
	free(s->environment);
	free(s->environment_type);
	free(s->input_json);
	memset(s, 0, sizeof(*s));
	s->started_ms = s->finished_ms = -1;
}

static enum cmh_err steps_from(const json_t *arr, struct cmh_execution *x)
{
	size_t i, n = json_array_size(arr);
	const json_t *item;
	enum cmh_err err;

	if (n == 0)
		return CMH_OK;
	if (n > CMH_RESOURCE_MAX_STEPS)
		n = CMH_RESOURCE_MAX_STEPS;
	x->steps = calloc(n, sizeof(*x->steps));
	if (!x->steps)
		return CMH_ERR_NOMEM;
	json_array_foreach(arr, i, item) {
		if (x->n_steps == n)
			break;
		if (!json_is_object(item))
			continue;
		/* Counted first so that release frees a half-filled entry. */
		err = step_from(item, &x->steps[x->n_steps++]);
		if (err)
			return err;
	}
	return CMH_OK;
}

static enum cmh_err execution_from(const json_t *o, struct cmh_execution *x)
{
	enum cmh_err err;

	x->created_ms = time_field(o, "createdAt");
	x->finished_ms = time_field(o, "finishedAt");
	err = text_field(o, "id", &x->id);
	if (!err)
		err = text_field(o, "programId", &x->program_id);
	if (!err)
		err = text_field(o, "pipelineId", &x->pipeline_id);
	if (!err)
		err = text_field(o, "status", &x->status);
	if (!err)
		err = text_field(o, "trigger", &x->trigger);
	if (!err)
		err = text_field(o, "user", &x->user);
	if (!err)
		err = steps_from(json_object_get(json_object_get(o, "_embedded"), "stepStates"), x);
	return err;
}

enum cmh_err cmh_resource_parse_execution(const char *body, size_t len, struct cmh_execution *ret,
	struct cmh_buf *errmsg)
{
	struct cmh_execution x = { 0 };
	json_t *root = load_object(body, len, "execution", errmsg);
	enum cmh_err err;

	if (!root)
		return CMH_ERR_PARSE;
	err = execution_from(root, &x);
	json_decref(root);
	if (err) {
		cmh_execution_release(&x);
		return err;
	}
	*ret = x;
	return CMH_OK;
}

void cmh_execution_release(struct cmh_execution *x)
{
	if (!x)
		return;
	free(x->id);
	free(x->program_id);
	free(x->pipeline_id);
	free(x->status);
	free(x->trigger);
	free(x->user);
	for (size_t i = 0; i < x->n_steps; i++)
		cmh_step_state_release(&x->steps[i]);
	free(x->steps);
	memset(x, 0, sizeof(*x));
	x->created_ms = x->finished_ms = -1;
}

/* ---- HAL links ---------------------------------------------------------- */

static enum cmh_err link_href(const json_t *link, const char *rel, char **ret_href,
	struct cmh_buf *errmsg)
{
	const json_t *templated, *href;
	const char *s;

	if (!json_is_object(link)) {
		cmh_errf(errmsg, "link %s is not an object", rel);
		return CMH_ERR_PARSE;
	}
	/* Templated links would need RFC 6570 expansion; the ones we follow are
	 * never templated (§3), so one that is means something is off. */
	templated = json_object_get(link, "templated");
	if (templated && !json_is_false(templated) && !json_is_null(templated)) {
		cmh_errf(errmsg, "link %s is templated", rel);
		return CMH_ERR_PARSE;
	}
	href = json_object_get(link, "href");
	s = json_string_value(href);
	if (!s || !*s) {
		cmh_errf(errmsg, "link %s has no href", rel);
		return CMH_ERR_PARSE;
	}
	if (strlen(s) > CMH_RESOURCE_MAX_HREF) {
		cmh_errf(errmsg, "link %s: href longer than %d bytes", rel, CMH_RESOURCE_MAX_HREF);
		return CMH_ERR_TOO_LARGE;
	}
	*ret_href = strdup(s);
	return *ret_href ? CMH_OK : CMH_ERR_NOMEM;
}

enum cmh_err cmh_resource_link(const char *body, size_t len, const char *rel, char **ret_href,
	struct cmh_buf *errmsg)
{
	json_t *root = load_object(body, len, "resource", errmsg);
	const json_t *link;
	enum cmh_err err;

	if (!root)
		return CMH_ERR_PARSE;
	link = rel ? json_object_get(json_object_get(root, "_links"), rel) : NULL;
	if (json_is_array(link))
		link = json_array_get(link, 0);
	if (!link) {
		cmh_errf(errmsg, "no link %s", rel ? rel : "(null)");
		err = CMH_ERR_NOT_FOUND;
	} else {
		err = link_href(link, rel, ret_href, errmsg);
	}
	json_decref(root);
	return err;
}

/*
 * libFuzzer target for resource.c: any byte string as a Cloud Manager API
 * answer, fed to every HAL parser and to cmh_resource_link() for each link
 * relation the enricher follows. Checks the promises resource.h makes to the
 * message renderers: every string is at most CMH_RESOURCE_MAX_TEXT bytes
 * with no control characters, at most CMH_RESOURCE_MAX_STEPS steps, hrefs at
 * most CMH_RESOURCE_MAX_HREF bytes, and a parse failure says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void text(const char *s)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	if (n > CMH_RESOURCE_MAX_TEXT)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void failed(enum cmh_err rc, struct cmh_buf *err)
{
	if (rc == CMH_ERR_PARSE && !err->len)
		abort();
	cmh_buf_reset(err);
}

static void steps(const struct cmh_step_state *s)
{
	text(s->action);
	text(s->status);
	text(s->environment);
	text(s->environment_type);
}

static void parse_all(const char *b, size_t n, struct cmh_buf *err)
{
	struct cmh_program_list l = { 0 };
	struct cmh_program p = { 0 };
	struct cmh_pipeline q = { 0 };
	struct cmh_execution x = { 0 };
	struct cmh_step_state s = { 0 };
	enum cmh_err rc;

	rc = cmh_resource_parse_program_list(b, n, &l, err);
	for (size_t i = 0; rc == CMH_OK && i < l.n; i++) {
		if (!l.items[i].id || !l.items[i].name)
			abort();
		text(l.items[i].id);
		text(l.items[i].name);
	}
	failed(rc, err);
	cmh_program_list_release(&l);

	rc = cmh_resource_parse_program(b, n, &p, err);
	text(p.id), text(p.name), text(p.tenant_id);
	failed(rc, err);
	cmh_program_release(&p);

	rc = cmh_resource_parse_pipeline(b, n, &q, err);
	text(q.id), text(q.name), text(q.type), text(q.trigger), text(q.build_target);
	failed(rc, err);
	cmh_pipeline_release(&q);

	rc = cmh_resource_parse_execution(b, n, &x, err);
	text(x.id), text(x.program_id), text(x.pipeline_id), text(x.status), text(x.trigger);
	text(x.user);
	if (x.n_steps > CMH_RESOURCE_MAX_STEPS || (x.n_steps && !x.steps))
		abort();
	for (size_t i = 0; i < x.n_steps; i++)
		steps(&x.steps[i]);
	failed(rc, err);
	cmh_execution_release(&x);

	rc = cmh_resource_parse_step_state(b, n, &s, err);
	steps(&s);
	failed(rc, err);
	cmh_step_state_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rels[] = { CMH_REL_PROGRAM, CMH_REL_PIPELINE, CMH_REL_EXECUTION,
					    "self", "" };
	const char *b = (const char *)data;
	struct cmh_buf err;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	parse_all(b, size, &err);
	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		char *href = NULL;
		enum cmh_err rc = cmh_resource_link(b, size, rels[i], &href, &err);

		if (rc == CMH_OK && (!href || strlen(href) > CMH_RESOURCE_MAX_HREF))
			abort();
		if (rc != CMH_OK && href)
			abort();
		failed(rc, &err);
		free(href);
	}
	cmh_buf_release(&err);
	return 0;
}

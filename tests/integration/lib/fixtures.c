/*
 * The shared fixtures of fixtures.h: a token-issuing handler for the fake
 * IMS, the fake program list of the Cloud Manager API (shape per
 * cloudmanager-api.md §5 and §9), and the per-test world that cmocka's
 * setup and teardown own.
 */
#include "fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <cmocka.h>

#include "http_client.h"

/* Adobe's sample answer (ims-oauth.md §2) with a fresh token each time. */
static void ims_token_handler(const struct fake_request *req, struct fake_response *resp, void *ud)
{
	struct fx_ims *ims = ud;
	unsigned n = __atomic_add_fetch(&ims->issued, 1, __ATOMIC_SEQ_CST);
	char *token = fx_ims_token(ims, n);

	resp->status = 200;
	resp->headers = "Content-Type: application/json;charset=utf-8";
	resp->body = tmp_xasprintf(
		"{\"access_token\":\"%s\",\"token_type\":\"bearer\",\"expires_in\":86399}", token);
	resp->free_body = true;
	free(token);
}

void fx_ims_init(struct fx_ims *ims)
{
	unsigned char rnd[16];
	size_t o = 0;

	memset(ims, 0, sizeof(*ims));
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		abort();
	/* Looks like the start of a JWT, and is unique per test so a leak cannot match by chance. */
	o += (size_t)snprintf(ims->prefix, sizeof(ims->prefix), "eyJhbGciOiJSUzI1NiJ9.");
	for (size_t i = 0; i < sizeof(rnd); i++)
		o += (size_t)snprintf(ims->prefix + o, sizeof(ims->prefix) - o, "%02x", rnd[i]);
}

void fx_ims_install(struct fx_ims *ims, struct fake_server *f)
{
	struct fake_response r = { .handler = ims_token_handler, .ud = ims };

	fake_push(f, "POST", FX_IMS_PATH, &r);
}

char *fx_ims_token(const struct fx_ims *ims, unsigned n)
{
	return tmp_xasprintf("%s.%u", ims->prefix, n);
}

unsigned fx_ims_issued(struct fx_ims *ims)
{
	return __atomic_load_n(&ims->issued, __ATOMIC_SEQ_CST);
}

void fx_ims_push_token(struct fake_server *f, const char *token, unsigned delay_ms)
{
	char *body = tmp_xasprintf(
		"{\"access_token\":\"%s\",\"token_type\":\"bearer\",\"expires_in\":86399}", token);
	struct fake_response r = {
		.status = 200,
		.headers = "Content-Type: application/json",
		.body = body,
		.delay_ms = delay_ms,
	};

	fake_push(f, "POST", FX_IMS_PATH, &r);
	free(body);
}

#define REL "http://ns.adobe.com/adobecloud/rel/"

const char fx_programs_json[] =
	"{\"_totalNumberOfItems\":2,"
	"\"_page\":{\"limit\":20,\"next\":20,\"prev\":0,\"start\":0},"
	"\"_embedded\":{\"programs\":["
	"{\"id\":\"22734\",\"name\":\"" FX_PROGRAM1_NAME "\",\"enabled\":true,"
	"\"tenantId\":\"acmecorp\",\"status\":\"ready\","
	"\"createdAt\":\"2023-02-14T10:02:11.000+0000\",\"updatedAt\":\"2025-05-30T08:41:57.000+0000\","
	"\"_links\":{\"" REL "tenant\":{\"href\":\"/api/tenant/9004\",\"templated\":false},"
	"\"self\":{\"href\":\"/api/program/22734\",\"templated\":false}}},"
	"{\"id\":\"31337\",\"name\":\"" FX_PROGRAM2_NAME "\",\"enabled\":true,"
	"\"tenantId\":\"acmecorp\",\"status\":\"ready\","
	"\"createdAt\":\"2024-06-01T07:30:00.000+0000\",\"updatedAt\":\"2025-01-09T16:12:03.512+0000\","
	"\"_links\":{\"" REL "tenant\":{\"href\":\"/api/tenant/9004\",\"templated\":false},"
	"\"self\":{\"href\":\"/api/program/31337\",\"templated\":false}}}"
	"]},"
	"\"_links\":{\"self\":{\"href\":\"/api/programs\",\"templated\":false}}}";

void fx_cmapi_install(struct fake_server *f)
{
	fake_push_json(f, "GET", FX_PROGRAMS_PATH, 200, fx_programs_json);
}

struct fx_world *fx_world_new(void)
{
	struct fx_world *w = tmp_xmalloc(sizeof(*w));

	memset(w, 0, sizeof(*w));
	run_env_init(&w->env);
	fx_ims_init(&w->tokens);
	w->dir = tmp_dir_new();
	w->ims = fake_start();
	w->api = fake_start();
	if (!w->dir || !w->ims || !w->api) {
		fx_world_free(w);
		return NULL;
	}
	w->data_dir = tmp_path(w->dir, "data");
	run_env_set(&w->env, "CLIENT_ID", FX_CLIENT_ID);
	run_env_set(&w->env, "CLIENT_SECRET", FX_SECRET);
	run_env_set(&w->env, "SCOPES", FX_SCOPES);
	run_env_set(&w->env, "ORGANIZATION_ID", FX_ORG);
	run_env_set(&w->env, "IMS_URL", fake_url(w->ims));
	run_env_set(&w->env, "CLOUDMANAGER_API_URL", fake_url(w->api));
	run_env_set(&w->env, "DATA_DIR", w->data_dir);
	run_env_set(&w->env, "LOG_LEVEL", "info");
	return w;
}

void fx_world_free(struct fx_world *w)
{
	if (!w)
		return;
	fake_stop(w->ims);
	fake_stop(w->api);
	run_result_release(&w->r);
	run_env_release(&w->env);
	free(w->data_dir);
	tmp_dir_free(w->dir);
	free(w);
}

void fx_routes(struct fx_world *w)
{
	fx_ims_install(&w->tokens, w->ims);
	fx_cmapi_install(w->api);
}

static void run_checked(struct fx_world *w, const struct run_env *env, unsigned timeout_ms,
			const char *const *args)
{
	run_result_release(&w->r);
	if (!run_cmd(&w->r, w->dir, env, args, timeout_ms))
		fail_msg("cannot start %s", CMH_BINARY);
	if (w->r.timed_out || getenv("CMH_TEST_VERBOSE")) {
		char what[256];
		size_t o = 0;

		for (size_t i = 0; args[i] && o < sizeof(what) - 1; i++)
			o += (size_t)snprintf(what + o, sizeof(what) - o, "%s ", args[i]);
		run_result_dump(&w->r, what);
	}
	if (w->r.timed_out)
		fail_msg("cmhook did not finish within %u ms (killed)", timeout_ms);
}

static void collect_args(const char **args, size_t max, va_list ap)
{
	size_t n = 0;

	while (n < max - 1 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	args[n] = NULL;
}

void fx_run(struct fx_world *w, ...)
{
	const char *args[64];
	va_list ap;

	va_start(ap, w);
	collect_args(args, 64, ap);
	va_end(ap);
	run_checked(w, &w->env, FX_RUN_TIMEOUT_MS, args);
}

void fx_run_env(struct fx_world *w, const struct run_env *env, unsigned timeout_ms, ...)
{
	const char *args[64];
	va_list ap;

	va_start(ap, timeout_ms);
	collect_args(args, 64, ap);
	va_end(ap);
	run_checked(w, env, timeout_ms, args);
}

void fx_expect_exit2(struct fx_world *w, int code1, int code2)
{
	if (w->r.exit_code == code1 || w->r.exit_code == code2)
		return;
	run_result_dump(&w->r, "unexpected exit code");
	if (code1 == code2)
		fail_msg("exit code %d, expected %d", w->r.exit_code, code1);
	fail_msg("exit code %d, expected %d or %d", w->r.exit_code, code1, code2);
}

void fx_expect_exit(struct fx_world *w, int code)
{
	fx_expect_exit2(w, code, code);
}

void fx_expect_stderr(struct fx_world *w, const char *needle)
{
	if (fx_contains_ci(w->r.err, w->r.err_len, needle))
		return;
	run_result_dump(&w->r, "missing text on stderr");
	fail_msg("stderr does not mention \"%s\"", needle);
}

void fx_expect_output(struct fx_world *w, const char *needle)
{
	if (fx_contains_ci(w->r.err, w->r.err_len, needle) ||
	    fx_contains_ci(w->r.out, w->r.out_len, needle))
		return;
	run_result_dump(&w->r, "missing text in the output");
	fail_msg("neither stdout nor stderr mentions \"%s\"", needle);
}

int fx_setup(void **state)
{
	struct fx_world *w = fx_world_new();

	*state = w;
	return w ? 0 : -1;
}

int fx_teardown(void **state)
{
	fx_world_free(*state);
	*state = NULL;
	return 0;
}

int fx_http_setup(void **state)
{
	(void)state;
	return cmh_http_global_init() == CMH_OK ? 0 : -1;
}

int fx_http_teardown(void **state)
{
	(void)state;
	cmh_http_global_cleanup();
	return 0;
}

bool fx_contains(const char *s, size_t len, const char *needle)
{
	return s && memmem(s, len, needle, strlen(needle)) != NULL;
}

bool fx_contains_ci(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (!s || n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return true;
	return false;
}

bool fx_media_type_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (!ct || strncasecmp(ct, type, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

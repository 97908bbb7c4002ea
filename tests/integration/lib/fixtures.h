/*
 * Shared fixtures of the integration tests: a fake IMS token endpoint, a
 * fake Cloud Manager API with a program list, the standard credentials, and
 * struct fx_world, which bundles one test's temp dir, fakes, environment and
 * last run so that a cmocka setup/teardown pair can own all of it (cmocka
 * leaves a failing test by longjmp, so cleanup must live in teardown).
 *
 * Typical test:
 *     struct fx_world *w = *state;
 *     fake_push_json(w->ims, "POST", FX_IMS_PATH, 503, "{}");  // scripted first
 *     fx_routes(w);                                           // then defaults
 *     fx_run(w, "token", NULL);
 *     assert_int_equal(w->r.exit_code, 0);
 *
 * A world belongs to one test thread; the fakes are thread-safe.
 */
#ifndef CMH_TEST_FIXTURES_H
#define CMH_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_server.h"
#include "run.h"
#include "tmp.h"

#define FX_IMS_PATH "/ims/token/v3"
#define FX_PROGRAMS_PATH "/api/programs"

/* Standard credentials. The secret holds every character that needs form encoding. */
#define FX_CLIENT_ID "0123456789abcdef0123456789abcdef"
#define FX_SECRET "p8e-S3c&ret=+%41 \xc3\xa9,x"
#define FX_SCOPES "openid,AdobeID,read_organizations,additional_info.projectedProductContext,read_pc.dma_aem_ams"
#define FX_ORG "1234567890ABCDEF12345678@AdobeOrg"

/* The two programs in the fake program list. */
#define FX_PROGRAM1_NAME "Acme Corp Main Site"
#define FX_PROGRAM2_NAME "Acme Corp Intranet"

/* Default timeout of one cmhook run (ms): generous for a loaded 2-core machine. */
#define FX_RUN_TIMEOUT_MS 20000u

/* Token issuing state of a fake IMS; tokens are "<random prefix>.<n>", n from 1. */
struct fx_ims {
	char prefix[64];
	unsigned issued;  /* accessed atomically */
};

void fx_ims_init(struct fx_ims *ims);
/* Append the token handler to POST /ims/token/v3 of f (after any scripted answers). */
void fx_ims_install(struct fx_ims *ims, struct fake_server *f);
/* The nth token issued (n >= 1), as a new string. */
char *fx_ims_token(const struct fx_ims *ims, unsigned n);
unsigned fx_ims_issued(struct fx_ims *ims);
/*
 * Append one scripted answer to POST /ims/token/v3 of f: 200 with Adobe's
 * answer shape for the fixed token `token` (expires_in 86399), after delay_ms.
 */
void fx_ims_push_token(struct fake_server *f, const char *token, unsigned delay_ms);

/* The fake program list (HAL), as served on GET /api/programs. */
extern const char fx_programs_json[];
/* Append a 200 program list to GET /api/programs of f. */
void fx_cmapi_install(struct fake_server *f);

struct fx_world {
	char *dir;                /* temp dir: cwd and HOME of cmhook */
	char *data_dir;           /* dir/data */
	struct fake_server *ims;
	struct fake_server *api;
	struct fx_ims tokens;
	struct run_env env;       /* the standard settings (fx_world_new) */
	struct run_result r;      /* the last run */
};

/*
 * A world with a temp dir, two started fakes without routes, and env holding
 * CLIENT_ID, CLIENT_SECRET, SCOPES, ORGANIZATION_ID, IMS_URL,
 * CLOUDMANAGER_API_URL, DATA_DIR and LOG_LEVEL=info. NULL on failure.
 */
struct fx_world *fx_world_new(void);
void fx_world_free(struct fx_world *w);

/* Install the default token handler on w->ims and the program list on w->api. */
void fx_routes(struct fx_world *w);

/*
 * Run cmhook with w->env and the given arguments (NULL-terminated) into w->r,
 * FX_RUN_TIMEOUT_MS. Fails the test if it cannot start or times out; dumps
 * the result to stderr when CMH_TEST_VERBOSE is set in the environment.
 */
void fx_run(struct fx_world *w, ...) __attribute__((sentinel));
/* Same with an explicit environment and timeout. */
void fx_run_env(struct fx_world *w, const struct run_env *env, unsigned timeout_ms, ...)
	__attribute__((sentinel));

/* Fail the test (after dumping w->r) unless the last run exited with code. */
void fx_expect_exit(struct fx_world *w, int code);
/* Same, for "one of two codes". */
void fx_expect_exit2(struct fx_world *w, int code1, int code2);
/* Fail (after dumping w->r) unless stderr contains needle, case-insensitively. */
void fx_expect_stderr(struct fx_world *w, const char *needle);
/* Fail unless stdout or stderr contains needle, case-insensitively. */
void fx_expect_output(struct fx_world *w, const char *needle);

/* cmocka fixtures: *state = a new world / free it. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* cmocka group fixtures for tests that call http_client.h: its global init and cleanup. */
int fx_http_setup(void **state);
int fx_http_teardown(void **state);

/* Case-insensitive substring search in s[0..len). */
bool fx_contains_ci(const char *s, size_t len, const char *needle);
/* True when a Content-Type value is media type `type`, with or without parameters. */
bool fx_media_type_is(const char *content_type, const char *type);
/* Exact byte substring search in s[0..len). */
bool fx_contains(const char *s, size_t len, const char *needle);

#endif

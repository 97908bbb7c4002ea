/*
 * `cmhook api [-X METHOD] [-d BODY] PATH|URL`: one authenticated Cloud
 * Manager API call, printing the response body. The token never leaves for
 * another origin: cmapi.c refuses any URL outside CLOUDMANAGER_API_URL.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmapi.h"
#include "ims.h"
#include "bounds.h"

struct api_opts {
	const char *method;
	const char *body;
};

static int on_opt(int opt, const char *arg, void *ud)
{
	struct api_opts *o = ud;

	switch (opt) {
	case 'X': o->method = arg; return 0;
	case 'd': o->body = arg; return 0;
	default: return 2;
	}
}

static bool method_valid(const char *m)
{
	static const char *const allowed[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" };

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(m, allowed[i]) == 0)
			return true;
	return false;
}

static int report_response(struct cmh_cli *cli, const char *method, const char *target,
			   const struct cmh_http_response *resp)
{
	if (resp->body.len)
		fwrite(resp->body.data, 1, resp->body.len, stdout);
	if (resp->body.len && resp->body.data[resp->body.len - 1] != '\n')
		fputc('\n', stdout);
	if (fflush(stdout))
		return 1;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	cmh_cli_error(cli, "%s %s answered %ld%s%s", method, cmh_q(target), resp->status,
		      resp->request_id[0] ? " x-request-id=" : "", resp->request_id);
	return 1;
}

static int run_api(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "request", required_argument, NULL, 'X' },
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_opts o = { 0 };
	struct cmh_http_response resp;
	struct cmh_ims *ims = NULL;
	struct cmh_buf err;
	const char *target;
	enum cmh_err e;
	bool done;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_api, argc, argv, ":hX:d:", longopts, on_opt, &o, &done);
	if (done)
		return rc;
	if (argc - optind != 1) {
		cmh_cli_error(cli, "expected exactly one PATH or URL (see cmhook api --help)");
		return 2;
	}
	target = argv[optind];
	if (!o.method)
		o.method = o.body ? "POST" : "GET";
	if (!method_valid(o.method)) {
		cmh_cli_error(cli, "unsupported method '%s'", o.method);
		return 2;
	}
	rc = cmh_cli_load_config(cli, CMH_NEED_TOKEN | CMH_NEED_API);
	if (rc)
		return rc;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	cmh_http_response_init(&resp);
	if (cmh_ims_new(&cli->cfg, NULL, NULL, &ims)) {
		cmh_cli_error(cli, "out of memory");
		rc = 1;
		goto out;
	}
	e = cmh_cmapi_call(&cli->cfg, ims, o.method, target, o.body, o.body ? strlen(o.body) : 0,
			   &resp, &err);
	if (e) {
		cmh_cli_error(cli, "%s", err.len ? err.data : cmh_strerror(e));
		/* A refused URL is the caller's mistake, like any other bad argument. */
		rc = e == CMH_ERR_FORBIDDEN ? 2 : cmh_err_exit_code(e);
		goto out;
	}
	rc = report_response(cli, o.method, target, &resp);
out:
	cmh_http_response_release(&resp);
	cmh_ims_free(ims);
	cmh_buf_release(&err);
	return rc;
}

const struct cmh_cli_command cmh_cmd_api = {
	.name = "api",
	.run = run_api,
	.args = "[-X METHOD] [-d BODY] PATH|URL",
	.summary = "call the Cloud Manager API with the cached token and print the response body",
	.help =
		"Options:\n"
		"  -X, --request METHOD   GET (default), POST, PUT, PATCH, DELETE or HEAD\n"
		"  -d, --data BODY        send BODY as application/json (implies POST without -X)\n"
		"\n"
		"PATH is resolved against CLOUDMANAGER_API_URL (e.g. /api/programs). An absolute URL\n"
		"must have the same origin; any other URL is refused, so the token never leaves for\n"
		"another host. Redirects are not followed.\n"
		"Exit codes: 0 for a 2xx answer, 1 otherwise (the body is printed either way), 2 for\n"
		"usage or configuration errors and refused URLs.\n",
};

/*
 * libFuzzer target for dotenv.c: any byte string as a .env file. Besides the
 * sanitizers it checks what config.c relies on: every callback gets a key
 * matching [A-Za-z_][A-Za-z0-9_.-]* and a NUL-terminated value, line numbers
 * never decrease and stay within the input's line count, a callback that
 * says stop yields CMH_ERR_INTERNAL, and a failure always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "dotenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	unsigned calls;
	unsigned last_line;
	unsigned max_line;
	unsigned stop_after;  /* 0: never stop */
};

static bool key_ok(const char *k)
{
	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
		return false;
	for (k++; *k; k++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", *k))
			return false;
	return true;
}

static int on_pair(const char *key, const char *value, unsigned line, void *ud)
{
	struct seen *s = ud;

	if (!key || !value || !key_ok(key) || line < s->last_line || line < 1 ||
	    line > s->max_line)
		abort();
	(void)strlen(value); /* ASan: must be a terminated string */
	s->last_line = line;
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n' || data[i] == '\r';
	return n;
}

static void run(const uint8_t *data, size_t size, unsigned stop_after)
{
	struct seen s = { .max_line = count_lines(data, size), .stop_after = stop_after };
	struct cmh_buf err;
	enum cmh_err rc;

	cmh_buf_init(&err, CMH_BUF_MAX_ERRMSG);
	rc = cmh_dotenv_parse((const char *)data, size, "fuzz.env", on_pair, &s, &err);
	if (rc == CMH_OK && stop_after && s.calls >= stop_after)
		abort(); /* the callback asked to stop */
	if (rc != CMH_OK && rc != CMH_ERR_PARSE && rc != CMH_ERR_INTERNAL && rc != CMH_ERR_NOMEM &&
	    rc != CMH_ERR_TOO_LARGE)
		abort();
	if (rc == CMH_ERR_PARSE && (!err.len || strncmp(err.data, "fuzz.env:", 9) != 0))
		abort();
	cmh_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, 0);
	run(data, size, 1);
	return 0;
}

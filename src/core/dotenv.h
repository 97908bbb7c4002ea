/*
 * A dotenv parser as a pure function from bytes to key/value pairs:
 * comments (`#` at line start, or after whitespace outside quotes), blank
 * lines, an `export ` prefix, unquoted values (trailing whitespace trimmed),
 * single quotes (literal), double quotes (escapes \n \r \t \\ \" \$ and
 * multi-line values), CRLF line ends and a leading UTF-8 BOM. Keys are
 * [A-Za-z_][A-Za-z0-9_.-]*. No variable expansion (values with `$` are
 * taken literally, like Node's dotenv).
 */
#ifndef CMH_DOTENV_H
#define CMH_DOTENV_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Called once per assignment, in file order; a later duplicate key follows an
 * earlier one (the caller decides who wins; config.c keeps the last). Return
 * non-zero to stop parsing (cmh_dotenv_parse then returns CMH_ERR_INTERNAL). */
typedef int (*cmh_dotenv_fn)(const char *key, const char *value, unsigned line, void *ud);

/*
 * Parse text[0..len). On a syntax error returns CMH_ERR_PARSE and writes
 * "<filename>:<line>: <what>" to errmsg (never the value, which may be a
 * secret). text need not be NUL-terminated and may contain NUL bytes (an
 * error).
 */
CMH_MUST_CHECK enum cmh_err cmh_dotenv_parse(const char *text, size_t len, const char *filename,
	cmh_dotenv_fn fn, void *ud, struct cmh_buf *errmsg);

#endif

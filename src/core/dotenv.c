/*
 * The dotenv parser: bytes in, (key, value, line) callbacks out. It owns the
 * syntax only (quoting, escapes, comments, `export`, CRLF, BOM) and knows
 * nothing about which keys exist or who wins on duplicates; config.c decides
 * that. Errors name the file and line but never a value, which may be a secret.
 */
#include "dotenv.h"

#include <stdbool.h>
#include <string.h>

/* Parser state over text[0..len). */
struct scan {
	const char *p;
	const char *end;
	unsigned line;
	const char *filename;
	struct cmh_buf *errmsg;
};

static bool at_end(const struct scan *s)
{
	return s->p >= s->end;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* True at "\n" or "\r\n" (a lone "\r" is an ordinary byte). */
static bool at_eol(const struct scan *s)
{
	if (at_end(s))
		return false;
	return *s->p == '\n' || (*s->p == '\r' && s->p + 1 < s->end && s->p[1] == '\n');
}

static void skip_blanks(struct scan *s)
{
	while (!at_end(s) && is_blank(*s->p))
		s->p++;
}

/* Consume the rest of the line including its end. */
static void skip_line(struct scan *s)
{
	while (!at_end(s) && *s->p != '\n')
		s->p++;
	if (!at_end(s)) {
		s->p++;
		s->line++;
	}
}

static enum cmh_err fail(struct scan *s, unsigned line, const char *what)
{
	cmh_errf(s->errmsg, "%s:%u: %s", s->filename, line, what);
	return CMH_ERR_PARSE;
}

/* A NUL byte is rejected up front so that the rest may use C strings. */
static enum cmh_err check_nul(struct scan *s)
{
	const char *nul = memchr(s->p, '\0', (size_t)(s->end - s->p));
	unsigned line = s->line;

	if (!nul)
		return CMH_OK;
	for (const char *q = s->p; q < nul; q++)
		line += *q == '\n';
	return fail(s, line, "NUL byte");
}

/* Skip an `export ` prefix, but only when a key follows it ("export=1" is a key). */
static void skip_export(struct scan *s)
{
	static const char word[] = "export";
	size_t n = sizeof(word) - 1;
	const char *q;

	if ((size_t)(s->end - s->p) <= n || memcmp(s->p, word, n) != 0 || !is_blank(s->p[n]))
		return;
	q = s->p + n;
	while (q < s->end && is_blank(*q))
		q++;
	if (q < s->end && is_key_start(*q))
		s->p = q;
}

static enum cmh_err parse_key(struct scan *s, struct cmh_buf *key)
{
	const char *start = s->p, *key_end;

	if (at_end(s) || !is_key_start(*s->p))
		return fail(s, s->line, "invalid key (expected a name of letters, digits and _ . -)");
	while (!at_end(s) && is_key_char(*s->p))
		s->p++;
	key_end = s->p;
	skip_blanks(s);
	if (!at_end(s) && *s->p == '=') {
		s->p++;
		cmh_buf_reset(key);
		return cmh_buf_add(key, start, (size_t)(key_end - start));
	}
	/* "KEY", "KEY # note", "KEY VALUE": a name without an assignment. */
	if (at_end(s) || at_eol(s) || s->p > key_end)
		return fail(s, s->line, "missing '=' after the key");
	return fail(s, s->line, "invalid key (expected a name of letters, digits and _ . -)");
}

/* After a closing quote only blanks and a comment may follow on that line. */
static enum cmh_err finish_quoted(struct scan *s)
{
	skip_blanks(s);
	if (at_end(s) || at_eol(s) || *s->p == '#') {
		skip_line(s);
		return CMH_OK;
	}
	return fail(s, s->line, "unexpected text after the closing quote");
}

static char unescape(char c, bool *known)
{
	*known = true;
	switch (c) {
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case '\\': return '\\';
	case '"': return '"';
	case '$': return '$';
	default:
		*known = false;
		return c;
	}
}

/* Double quotes: escapes, and the value may span lines (CRLF stored as LF). */
static enum cmh_err parse_double(struct scan *s, struct cmh_buf *val)
{
	unsigned start_line = s->line;
	enum cmh_err err = CMH_OK;

	for (s->p++; !err; s->p++) {
		char c, out;
		bool known;

		if (at_end(s))
			return fail(s, start_line, "unterminated double-quoted value");
		c = *s->p;
		if (c == '"') {
			s->p++;
			return finish_quoted(s);
		}
		if (c == '\\' && s->p + 1 < s->end) {
			out = unescape(*++s->p, &known);
			s->line += out == '\n' && !known;
			/* An unknown escape stays as written: Windows paths survive. */
			if (!known)
				err = cmh_buf_addch(val, '\\');
			if (!err)
				err = cmh_buf_addch(val, out);
			continue;
		}
		if (c == '\r' && s->p + 1 < s->end && s->p[1] == '\n')
			continue;
		if (c == '\n')
			s->line++;
		err = cmh_buf_addch(val, c);
	}
	return err;
}

/* Single quotes: literal bytes up to the next quote on the same line. */
static enum cmh_err parse_single(struct scan *s, struct cmh_buf *val)
{
	const char *start = ++s->p;
	enum cmh_err err;

	while (!at_end(s) && *s->p != '\'' && *s->p != '\n')
		s->p++;
	if (at_end(s) || *s->p != '\'')
		return fail(s, s->line, "unterminated single-quoted value");
	err = cmh_buf_add(val, start, (size_t)(s->p - start));
	if (err)
		return err;
	s->p++;
	return finish_quoted(s);
}

/*
 * Unquoted: up to the line end or a `#` that follows a blank ("a#b" and
 * "#ff0000" are values, "a #b" is a value and a comment); trailing blanks
 * trimmed. s->p[-1] is always readable: the `=` precedes the value.
 */
static enum cmh_err parse_unquoted(struct scan *s, struct cmh_buf *val)
{
	const char *start = s->p, *stop;

	while (!at_end(s) && !at_eol(s) && !(*s->p == '#' && is_blank(s->p[-1])))
		s->p++;
	stop = s->p;
	while (stop > start && (is_blank(stop[-1]) || stop[-1] == '\r'))
		stop--;
	skip_line(s);
	return cmh_buf_add(val, start, (size_t)(stop - start));
}

static enum cmh_err parse_value(struct scan *s, struct cmh_buf *val)
{
	cmh_buf_reset(val);
	skip_blanks(s);
	if (!at_end(s) && *s->p == '"')
		return parse_double(s, val);
	if (!at_end(s) && *s->p == '\'')
		return parse_single(s, val);
	return parse_unquoted(s, val);
}

/* One line (or one multi-line assignment); *line_out gets its first line. */
static enum cmh_err parse_entry(struct scan *s, struct cmh_buf *key, struct cmh_buf *val,
				bool *ret_assigned, unsigned *ret_line)
{
	enum cmh_err err;

	*ret_assigned = false;
	skip_blanks(s);
	if (at_end(s))
		return CMH_OK;
	if (at_eol(s) || *s->p == '#') {
		skip_line(s);
		return CMH_OK;
	}
	*ret_line = s->line;
	skip_export(s);
	err = parse_key(s, key);
	if (!err)
		err = parse_value(s, val);
	*ret_assigned = !err;
	return err;
}

enum cmh_err cmh_dotenv_parse(const char *text, size_t len, const char *filename,
			      cmh_dotenv_fn fn, void *ud, struct cmh_buf *errmsg)
{
	struct scan s = { text, text + len, 1, filename ? filename : "-", errmsg };
	struct cmh_buf key, val;
	enum cmh_err err;

	cmh_buf_init(&key, len);
	cmh_buf_init(&val, len);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	err = check_nul(&s);
	while (!err && !at_end(&s)) {
		bool assigned;
		unsigned line = s.line;

		err = parse_entry(&s, &key, &val, &assigned, &line);
		if (!err && assigned && fn(key.data, val.data, line, ud) != 0)
			err = CMH_ERR_INTERNAL;
	}
	if (err == CMH_ERR_TOO_LARGE || err == CMH_ERR_NOMEM)
		cmh_errf(errmsg, "%s: out of memory while parsing", s.filename);
	cmh_buf_release(&key);
	cmh_buf_wipe(&val);
	return err;
}

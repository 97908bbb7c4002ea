/*
 * Bounded buffer implementation. Growth doubles the allocation up to max+1;
 * every appender is all-or-nothing.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_slot[1];

void cmh_buf_init(struct cmh_buf *b, size_t max)
{
	b->data = empty_slot;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void cmh_buf_release(struct cmh_buf *b)
{
	if (b->cap)
		free(b->data);
	cmh_buf_init(b, b->max);
}

void cmh_buf_wipe(struct cmh_buf *b)
{
	if (b->cap)
		explicit_bzero(b->data, b->cap);
	cmh_buf_release(b);
}

void cmh_buf_reset(struct cmh_buf *b)
{
	b->len = 0;
	/* The shared empty slot is always "" already; writing it from several
	 * threads would be a (harmless) data race. */
	if (b->cap)
		b->data[0] = '\0';
}

char *cmh_buf_detach(struct cmh_buf *b, size_t *ret_len)
{
	char *p = b->cap ? b->data : strdup("");

	if (ret_len)
		*ret_len = b->len;
	cmh_buf_init(b, b->max);
	return p;
}

static enum cmh_err grow(struct cmh_buf *b, size_t extra)
{
	size_t want, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return CMH_ERR_TOO_LARGE;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return CMH_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = b->cap ? realloc(b->data, cap) : malloc(cap);
	if (!p)
		return CMH_ERR_NOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return CMH_OK;
}

enum cmh_err cmh_buf_add(struct cmh_buf *b, const void *p, size_t n)
{
	enum cmh_err err = grow(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CMH_OK;
}

enum cmh_err cmh_buf_adds(struct cmh_buf *b, const char *s)
{
	return cmh_buf_add(b, s, strlen(s));
}

enum cmh_err cmh_buf_addch(struct cmh_buf *b, char c)
{
	return cmh_buf_add(b, &c, 1);
}

enum cmh_err cmh_buf_vaddf(struct cmh_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	enum cmh_err err;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return CMH_ERR_INTERNAL;
	err = grow(b, (size_t)n);
	if (err)
		return err;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return CMH_OK;
}

enum cmh_err cmh_buf_addf(struct cmh_buf *b, const char *fmt, ...)
{
	va_list ap;
	enum cmh_err err;

	va_start(ap, fmt);
	err = cmh_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return err;
}

void cmh_errf(struct cmh_buf *b, const char *fmt, ...)
{
	char tmp[CMH_BUF_MAX_ERRMSG];
	va_list ap;
	size_t n;

	if (!b)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	n = strlen(tmp);
	if (n > b->max)
		n = b->max;
	cmh_buf_reset(b);
	(void)!cmh_buf_add(b, tmp, n);
}

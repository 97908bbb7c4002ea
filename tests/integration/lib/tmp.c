/*
 * Temporary directories for integration tests: creation with mkdtemp,
 * file writing with an exact mode, dotenv files, whole-file reads and
 * recursive removal with nftw. Everything a test leaves on disk lives under
 * one directory so that teardown is a single tmp_dir_free().
 */
#include "tmp.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_MAX_READ ((size_t)64 * 1024 * 1024)

void *tmp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

char *tmp_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

char *tmp_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

void tmp_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	(void)snprintf(out, 37,
		       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		       b[12], b[13], b[14], b[15]);
}

char *tmp_dir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl;

	if (!base || !*base)
		base = "/tmp";
	tmpl = tmp_xasprintf("%s/cmhook-it-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* Depth-first (FTW_DEPTH), so directories are empty when we get to them. */
	if (type == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

void tmp_dir_free(char *dir)
{
	if (!dir)
		return;
	/* A test may have left a directory without write permission: fix that first. */
	(void)chmod(dir, 0700);
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *tmp_path(const char *dir, const char *name)
{
	return tmp_xasprintf("%s/%s", dir, name);
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool tmp_write(const char *dir, const char *name, const char *data, size_t len, mode_t mode)
{
	char *path = tmp_path(dir, name);
	bool ok = false;
	int fd;

	if (len == (size_t)-1)
		len = strlen(data);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	ok = write_all(fd, data, len);
	/* fchmod, not the open mode, so the umask does not interfere. */
	if (fchmod(fd, mode) != 0)
		ok = false;
	if (close(fd) != 0)
		ok = false;
out:
	free(path);
	return ok;
}

bool tmp_write_env(const char *dir, const char *name, ...)
{
	char *text = tmp_xstrdup("");
	const char *key;
	va_list ap;
	bool ok;

	va_start(ap, name);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		char *next = tmp_xasprintf("%s%s=%s\n", text, key, value ? value : "");

		free(text);
		text = next;
	}
	va_end(ap);
	ok = tmp_write(dir, name, text, (size_t)-1, 0600);
	free(text);
	return ok;
}

char *tmp_read(const char *path, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *data = tmp_xmalloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		free(data);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			if (cap >= TMP_MAX_READ)
				break;
			cap *= 2;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	data[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return data;
}

int tmp_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

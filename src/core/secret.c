/*
 * Secret values: the only place that copies, reads from files and wipes
 * client secrets and tokens. Every copy this module makes is overwritten with
 * explicit_bzero() before it is freed; error messages name files and reasons,
 * never contents. Callers decide where a secret may go; this module only keeps
 * it from lingering in memory.
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"

enum cmh_err cmh_secret_set(struct cmh_secret *s, const char *value, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return CMH_ERR_NOMEM;
	if (len)
		memcpy(p, value, len);
	p[len] = '\0';
	cmh_secret_clear(s);
	s->data = p;
	s->len = len;
	return CMH_OK;
}

void cmh_secret_clear(struct cmh_secret *s)
{
	if (!s)
		return;
	if (s->data) {
		explicit_bzero(s->data, s->len);
		free(s->data);
	}
	s->data = NULL;
	s->len = 0;
}

void cmh_secret_fingerprint(const struct cmh_secret *s, char out[CMH_FINGERPRINT_LEN + 1])
{
	if (!s || !cmh_secret_is_set(s)) {
		out[0] = '-';
		out[1] = '\0';
		return;
	}
	cmh_fingerprint(s->data, s->len, out);
}

/*
 * Open path; a relative path that does not exist is tried again below
 * $CREDENTIALS_DIRECTORY, where systemd's LoadCredential= puts secrets.
 */
static int open_secret(const char *path)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct cmh_buf alt;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int saved;

	if (fd >= 0 || errno != ENOENT || path[0] == '/' || !dir || !dir[0])
		return fd;
	cmh_buf_init(&alt, 4096);
	if (cmh_buf_addf(&alt, "%s/%s", dir, path)) {
		cmh_buf_release(&alt);
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(alt.data, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	saved = errno;
	cmh_buf_release(&alt);
	errno = saved;
	return fd;
}

/* Read all of fd into buf[0..cap); *ret_len > cap - 1 means "too large". */
static int read_all(int fd, char *buf, size_t cap, size_t *ret_len)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*ret_len = n;
	return 0;
}

static enum cmh_err read_secret_fd(struct cmh_secret *s, int fd, const char *path,
				   struct cmh_buf *errmsg)
{
	/* One byte beyond the cap tells "exactly at the limit" from "over it". */
	size_t cap = CMH_MAX_SECRET_FILE + 1, n = 0;
	char *tmp = malloc(cap);
	enum cmh_err err = CMH_OK;

	if (!tmp)
		return CMH_ERR_NOMEM;
	if (read_all(fd, tmp, cap, &n) < 0) {
		cmh_errf(errmsg, "%s: %s", path, strerror(errno));
		err = CMH_ERR_IO;
		goto out;
	}
	if (n > CMH_MAX_SECRET_FILE) {
		cmh_errf(errmsg, "%s: larger than %d bytes", path, CMH_MAX_SECRET_FILE);
		err = CMH_ERR_TOO_LARGE;
		goto out;
	}
	if (n && tmp[n - 1] == '\n')
		n -= 1 + (n > 1 && tmp[n - 2] == '\r');
	if (n == 0 || memchr(tmp, '\0', n)) {
		cmh_errf(errmsg, "%s: %s", path, n ? "contains a NUL byte" : "is empty");
		err = CMH_ERR_PARSE;
		goto out;
	}
	err = cmh_secret_set(s, tmp, n);
out:
	explicit_bzero(tmp, cap);
	free(tmp);
	return err;
}

enum cmh_err cmh_secret_load_file(struct cmh_secret *s, const char *path, struct cmh_buf *errmsg)
{
	struct stat st;
	enum cmh_err err;
	int fd;

	if (!path || !path[0]) {
		cmh_errf(errmsg, "empty secret file name");
		return CMH_ERR_IO;
	}
	fd = open_secret(path);
	if (fd < 0) {
		cmh_errf(errmsg, "%s: %s", path, strerror(errno));
		return CMH_ERR_IO;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		cmh_errf(errmsg, "%s: %s", path, strerror(EISDIR));
		close(fd);
		return CMH_ERR_IO;
	}
	err = read_secret_fd(s, fd, path, errmsg);
	close(fd);
	return err;
}

/* Filesystem helpers: directory creation for DATA_DIR (journal, token cache). */
#include "fsutil.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bounds.h"

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

enum cmh_err cmh_fs_ensure_dir(const char *dir, struct cmh_buf *errmsg)
{
	struct cmh_buf path;
	enum cmh_err err = CMH_OK;

	if (!dir || !*dir) {
		cmh_errf(errmsg, "empty directory name");
		return CMH_ERR_IO;
	}
	if (is_dir(dir))
		return CMH_OK;
	cmh_buf_init(&path, CMH_BUF_MAX_SMALL);
	if (cmh_buf_adds(&path, dir)) {
		cmh_errf(errmsg, "%s: path too long", dir);
		cmh_buf_release(&path);
		return CMH_ERR_IO;
	}
	/* mkdir -p: create each missing component in turn. */
	for (char *p = path.data + 1; ; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path.data, 0700) != 0 && errno != EEXIST) {
			cmh_errf(errmsg, "cannot create %s: %s", path.data, strerror(errno));
			err = CMH_ERR_IO;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (!err && !is_dir(dir)) {
		cmh_errf(errmsg, "%s is not a directory", dir);
		err = CMH_ERR_IO;
	}
	cmh_buf_release(&path);
	return err;
}

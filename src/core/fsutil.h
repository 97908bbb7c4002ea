/* Small filesystem helpers shared by the modules that keep state in DATA_DIR. */
#ifndef CMH_FSUTIL_H
#define CMH_FSUTIL_H

#include "buf.h"
#include "err.h"

/*
 * Make sure dir exists as a directory, creating it (and missing parents)
 * with mode 0700. An existing directory is left as it is. CMH_ERR_IO with
 * the reason in errmsg otherwise.
 */
CMH_MUST_CHECK enum cmh_err cmh_fs_ensure_dir(const char *dir, struct cmh_buf *errmsg);

#endif

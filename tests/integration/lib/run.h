/*
 * Running the binary under test. Two modes:
 *
 *  - run_cmd(): run to completion with an explicit environment (nothing is
 *    inherited from the test process except PATH and sanitizer options),
 *    working directory and HOME = a test directory, stdin /dev/null, stdout
 *    and stderr captured completely, and a hard timeout after which the child
 *    is killed with SIGKILL and `timed_out` is set.
 *  - run_bg_*(): start a long-running process (`cmhook serve`) with stdout and
 *    stderr going to files in the test directory, signal it, wait for it to
 *    exit with a bound, and wait until its stderr contains a string.
 *
 * The environment is a struct run_env: an ordered list of KEY=VALUE strings
 * where setting a key again replaces it. Functions abort on allocation
 * failure. A struct run_env or run_bg is owned by one thread.
 */
#ifndef CMH_TEST_RUN_H
#define CMH_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The binary under test, absolute path (set by the build). */
#ifndef CMH_BINARY
#error "CMH_BINARY must name the cmhook binary"
#endif

struct run_env {
	char **v;      /* "KEY=VALUE" strings, NULL-terminated */
	size_t n;
	size_t cap;
};

void run_env_init(struct run_env *env);
void run_env_release(struct run_env *env);
/* Set (or replace) key. */
void run_env_set(struct run_env *env, const char *key, const char *value);
void run_env_setf(struct run_env *env, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Remove key if present. */
void run_env_unset(struct run_env *env, const char *key);
/* A deep copy of src into dst (dst uninitialised). */
void run_env_copy(struct run_env *dst, const struct run_env *src);

struct run_result {
	int exit_code;     /* exit status, or -1 when killed by a signal */
	int term_signal;   /* the signal that ended it, or 0 */
	bool timed_out;    /* killed by us after timeout_ms */
	long elapsed_ms;
	char *out;         /* complete stdout, NUL-terminated (may contain NULs) */
	size_t out_len;
	char *err;         /* complete stderr */
	size_t err_len;
};

void run_result_release(struct run_result *r);

/*
 * Run CMH_BINARY with argv (argv[0] excluded: the arguments only,
 * NULL-terminated) in directory dir with env plus PATH and HOME=dir. Returns
 * false only when the process could not be started; a timeout is reported
 * through r->timed_out. r is overwritten (release it afterwards).
 */
bool run_cmd(struct run_result *r, const char *dir, const struct run_env *env,
	     const char *const *argv, unsigned timeout_ms);

/* Like run_cmd for another program (absolute path): for testing the harness itself. */
bool run_exec(struct run_result *r, const char *binary, const char *dir,
	      const struct run_env *env, const char *const *args, unsigned timeout_ms);

/* Convenience: run_cmd with the arguments listed inline, NULL-terminated. */
bool run_cmdl(struct run_result *r, const char *dir, const struct run_env *env,
	      unsigned timeout_ms, ...) __attribute__((sentinel));

/* Print a result (exit code, stdout, stderr) to stderr: for failing tests. */
void run_result_dump(const struct run_result *r, const char *what);

/* A "Field:  N kB" line of /proc/PID/status (e.g. "VmRSS:") as N, -1 when unreadable. */
long run_proc_kib(pid_t pid, const char *field);

struct run_bg;

/*
 * Start CMH_BINARY in the background like run_cmd, with stdout to dir/name.out
 * and stderr to dir/name.err (name e.g. "serve"). NULL on failure.
 */
struct run_bg *run_bg_start(const char *dir, const char *name, const struct run_env *env,
			    const char *const *argv);
/* Like run_bg_start for another program: for testing the harness itself. */
struct run_bg *run_bg_exec(const char *binary, const char *dir, const char *name,
			   const struct run_env *env, const char *const *argv);
pid_t run_bg_pid(const struct run_bg *bg);
bool run_bg_signal(struct run_bg *bg, int sig);
/*
 * Wait up to timeout_ms for the process to exit; true when it did, with the
 * exit code (-1 if signalled) in *ret_exit_code when not NULL.
 */
bool run_bg_wait(struct run_bg *bg, unsigned timeout_ms, int *ret_exit_code);
/* Wait up to timeout_ms until the stderr file contains needle (polled every 20 ms). */
bool run_bg_wait_stderr(struct run_bg *bg, const char *needle, unsigned timeout_ms);
/* The path of the stderr file (owned by bg). */
const char *run_bg_err_path(const struct run_bg *bg);
/* The current content of the stderr file; free() it. */
char *run_bg_stderr(const struct run_bg *bg);
/* SIGKILL the process if it is still running, reap it and free bg. NULL is fine. */
void run_bg_free(struct run_bg *bg);

#endif

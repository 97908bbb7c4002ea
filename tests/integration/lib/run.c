/*
 * Process control for integration tests: fork/execve of the binary under
 * test with an explicit environment, complete capture of stdout and stderr
 * through pipes, and a hard deadline enforced with poll() on the pipes and a
 * pidfd (no sleeping). Background processes write to files instead, because
 * nobody reads their pipes while the test talks to them.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmp.h"

/* Variables passed through from the test's own environment. */
static const char *const pass_through[] = {
	"PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL,
};

void run_env_init(struct run_env *env)
{
	env->cap = 16;
	env->n = 0;
	env->v = tmp_xmalloc(env->cap * sizeof(*env->v));
	env->v[0] = NULL;
}

void run_env_release(struct run_env *env)
{
	if (!env || !env->v)
		return;
	for (size_t i = 0; i < env->n; i++)
		free(env->v[i]);
	free(env->v);
	env->v = NULL;
	env->n = env->cap = 0;
}

static ssize_t env_find(const struct run_env *env, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], key, klen) == 0 && env->v[i][klen] == '=')
			return (ssize_t)i;
	return -1;
}

static void env_put(struct run_env *env, const char *key, char *entry)
{
	ssize_t i = env_find(env, key);

	if (i >= 0) {
		free(env->v[i]);
		env->v[i] = entry;
		return;
	}
	if (env->n + 2 > env->cap) {
		env->cap *= 2;
		env->v = realloc(env->v, env->cap * sizeof(*env->v));
		if (!env->v)
			abort();
	}
	env->v[env->n++] = entry;
	env->v[env->n] = NULL;
}

void run_env_set(struct run_env *env, const char *key, const char *value)
{
	env_put(env, key, tmp_xasprintf("%s=%s", key, value));
}

void run_env_setf(struct run_env *env, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value = NULL;

	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		abort();
	va_end(ap);
	run_env_set(env, key, value);
	free(value);
}

void run_env_unset(struct run_env *env, const char *key)
{
	ssize_t i = env_find(env, key);

	if (i < 0)
		return;
	free(env->v[i]);
	memmove(&env->v[i], &env->v[i + 1], (env->n - (size_t)i) * sizeof(*env->v));
	env->n--;
}

void run_env_copy(struct run_env *dst, const struct run_env *src)
{
	run_env_init(dst);
	for (size_t i = 0; i < src->n; i++) {
		const char *eq = strchr(src->v[i], '=');
		char *key = strndup(src->v[i], (size_t)(eq - src->v[i]));

		if (!key)
			abort();
		run_env_set(dst, key, eq + 1);
		free(key);
	}
}

/* The child's environment: env, plus pass-through variables and HOME=dir unless env sets them. */
static void child_env(struct run_env *out, const struct run_env *env, const char *dir)
{
	run_env_init(out);
	for (size_t i = 0; pass_through[i]; i++) {
		const char *v = getenv(pass_through[i]);

		if (v)
			run_env_set(out, pass_through[i], v);
	}
	run_env_set(out, "HOME", dir);
	if (env) {
		for (size_t i = 0; i < env->n; i++) {
			const char *eq = strchr(env->v[i], '=');
			char *key = strndup(env->v[i], (size_t)(eq - env->v[i]));

			if (!key)
				abort();
			run_env_set(out, key, eq + 1);
			free(key);
		}
	}
}

/* argv for execve: binary followed by args; free() the array only. */
static char **child_argv(const char *binary, const char *const *args)
{
	size_t n = 0;
	char **argv;

	while (args && args[n])
		n++;
	argv = tmp_xmalloc((n + 2) * sizeof(*argv));
	argv[0] = (char *)binary;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	argv[n + 1] = NULL;
	return argv;
}

/*
 * In the child after fork: only async-signal-safe calls (the test process
 * has threads). fds[0..2] become stdin, stdout, stderr.
 */
static _Noreturn void child_exec(const char *dir, const int fds[3], char **argv, char **envp)
{
	if (chdir(dir) != 0)
		_exit(126);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(126);
	/* Nothing else of the test process leaks into the child. */
	(void)close_range(3, ~0U, 0);
	/* The test process may have blocked or ignored signals; the child starts clean. */
	{
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
	}
	execve(argv[0], argv, envp);
	_exit(127);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void status_decode(int status, int *ret_exit, int *ret_sig)
{
	*ret_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	*ret_sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

struct capture {
	char *data;
	size_t len;
	size_t cap;
};

/* Read what is available from fd into c; false at EOF or error. */
static bool capture_read(struct capture *c, int fd)
{
	ssize_t n;

	if (c->cap - c->len < 4096) {
		c->cap = c->cap ? c->cap * 2 : 16384;
		c->data = realloc(c->data, c->cap);
		if (!c->data)
			abort();
	}
	do
		n = read(fd, c->data + c->len, c->cap - c->len - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	return true;
}

static char *capture_finish(struct capture *c, size_t *ret_len)
{
	if (!c->data)
		c->data = tmp_xmalloc(1);
	c->data[c->len] = '\0';
	*ret_len = c->len;
	return c->data;
}

void run_result_release(struct run_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/*
 * The event loop of run_cmd: read both pipes until EOF and wait for the
 * process to exit, all before deadline; on expiry SIGKILL and reap.
 */
static void supervise(struct run_result *r, pid_t pid, int pidfd, int out_fd, int err_fd,
		      long start, unsigned timeout_ms)
{
	struct capture cap[2] = { { 0 }, { 0 } };
	struct pollfd pfd[3] = {
		{ .fd = out_fd, .events = POLLIN },
		{ .fd = err_fd, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	bool exited = false;
	int status = 0;

	while (pfd[0].fd >= 0 || pfd[1].fd >= 0 || !exited) {
		long left = start + (long)timeout_ms - now_ms();
		int n;

		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		n = poll(pfd, 3, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents && !capture_read(&cap[i], pfd[i].fd))
				pfd[i].fd = -1;
		if (pfd[2].fd >= 0 && pfd[2].revents) {
			if (waitpid(pid, &status, 0) == pid)
				exited = true;
			r->elapsed_ms = now_ms() - start;
			pfd[2].fd = -1;
		}
	}
	if (!exited) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		r->elapsed_ms = now_ms() - start;
	}
	status_decode(status, &r->exit_code, &r->term_signal);
	r->out = capture_finish(&cap[0], &r->out_len);
	r->err = capture_finish(&cap[1], &r->err_len);
}

bool run_cmd(struct run_result *r, const char *dir, const struct run_env *env,
	     const char *const *args, unsigned timeout_ms)
{
	return run_exec(r, CMH_BINARY, dir, env, args, timeout_ms);
}

bool run_exec(struct run_result *r, const char *binary, const char *dir,
	      const struct run_env *env, const char *const *args, unsigned timeout_ms)
{
	struct run_env cenv;
	char **argv = child_argv(binary, args);
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	int devnull = -1, pidfd = -1;
	bool ok = false;
	pid_t pid;
	long start;

	memset(r, 0, sizeof(*r));
	child_env(&cenv, env, dir);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
		goto out;
	start = now_ms();
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		int fds[3] = { devnull, out_pipe[1], err_pipe[1] };

		child_exec(dir, fds, argv, cenv.v);
	}
	(void)close(out_pipe[1]);
	(void)close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		goto out;
	}
	supervise(r, pid, pidfd, out_pipe[0], err_pipe[0], start, timeout_ms);
	ok = true;
out:
	for (int i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			(void)close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			(void)close(err_pipe[i]);
	}
	if (devnull >= 0)
		(void)close(devnull);
	if (pidfd >= 0)
		(void)close(pidfd);
	free(argv);
	run_env_release(&cenv);
	return ok;
}

bool run_cmdl(struct run_result *r, const char *dir, const struct run_env *env,
	      unsigned timeout_ms, ...)
{
	const char *args[64];
	size_t n = 0;
	va_list ap;

	va_start(ap, timeout_ms);
	while (n < 63 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return run_cmd(r, dir, env, args, timeout_ms);
}

void run_result_dump(const struct run_result *r, const char *what)
{
	fprintf(stderr, "---- %s: exit=%d signal=%d timed_out=%d elapsed=%ldms\n"
		"---- stdout (%zu bytes):\n%s\n---- stderr (%zu bytes):\n%s\n---- end\n",
		what ? what : "run", r->exit_code, r->term_signal, (int)r->timed_out,
		r->elapsed_ms, r->out_len, r->out ? r->out : "", r->err_len,
		r->err ? r->err : "");
}

struct run_bg {
	pid_t pid;
	int pidfd;
	bool reaped;
	int exit_code;
	char *err_path;
};

struct run_bg *run_bg_start(const char *dir, const char *name, const struct run_env *env,
			    const char *const *args)
{
	return run_bg_exec(CMH_BINARY, dir, name, env, args);
}

struct run_bg *run_bg_exec(const char *binary, const char *dir, const char *name,
			   const struct run_env *env, const char *const *args)
{
	struct run_bg *bg = tmp_xmalloc(sizeof(*bg));
	char *out_path = tmp_xasprintf("%s/%s.out", dir, name);
	char **argv = child_argv(binary, args);
	struct run_env cenv;
	int fds[3] = { -1, -1, -1 };
	pid_t pid;

	memset(bg, 0, sizeof(*bg));
	bg->pidfd = -1;
	bg->err_path = tmp_xasprintf("%s/%s.err", dir, name);
	child_env(&cenv, env, dir);
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	fds[2] = open(bg->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(dir, fds, argv, cenv.v);
	bg->pid = pid;
	bg->pidfd = pidfd_open(pid, 0);
	if (bg->pidfd < 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		bg->reaped = true;
		goto fail;
	}
	goto done;
fail:
	run_bg_free(bg);
	bg = NULL;
done:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	run_env_release(&cenv);
	free(argv);
	free(out_path);
	return bg;
}

pid_t run_bg_pid(const struct run_bg *bg)
{
	return bg->pid;
}

bool run_bg_signal(struct run_bg *bg, int sig)
{
	if (bg->reaped || bg->pid <= 0)
		return false;
	return pidfd_send_signal(bg->pidfd, sig, NULL, 0) == 0;
}

bool run_bg_wait(struct run_bg *bg, unsigned timeout_ms, int *ret_exit_code)
{
	long deadline = now_ms() + (long)timeout_ms;

	while (!bg->reaped && bg->pid > 0) {
		struct pollfd pfd = { .fd = bg->pidfd, .events = POLLIN };
		long left = deadline - now_ms();
		int status, sig;

		if (left < 0)
			left = 0;
		if (poll(&pfd, 1, (int)left) == 0)
			return false;
		if (waitpid(bg->pid, &status, WNOHANG) == bg->pid) {
			status_decode(status, &bg->exit_code, &sig);
			bg->reaped = true;
		} else if (left == 0) {
			return false;
		}
	}
	if (ret_exit_code)
		*ret_exit_code = bg->exit_code;
	return bg->reaped;
}

const char *run_bg_err_path(const struct run_bg *bg)
{
	return bg->err_path;
}

char *run_bg_stderr(const struct run_bg *bg)
{
	char *s = tmp_read(bg->err_path, NULL);

	return s ? s : tmp_xstrdup("");
}

bool run_bg_wait_stderr(struct run_bg *bg, const char *needle, unsigned timeout_ms)
{
	long deadline = now_ms() + (long)timeout_ms;

	for (;;) {
		/* Check for exit before reading, so output written just before exit is seen. */
		bool gone = run_bg_wait(bg, 0, NULL);
		size_t len = 0;
		char *text = tmp_read(bg->err_path, &len);
		bool found = text && memmem(text, len, needle, strlen(needle)) != NULL;

		free(text);
		if (found)
			return true;
		if (gone || now_ms() >= deadline)
			return false;
		/* A file grows without anything to wait on; 20 ms polling is the documented compromise. */
		(void)poll(NULL, 0, 20);
	}
}

void run_bg_free(struct run_bg *bg)
{
	if (!bg)
		return;
	if (bg->pid > 0 && !bg->reaped) {
		(void)kill(bg->pid, SIGKILL);
		(void)waitpid(bg->pid, NULL, 0);
	}
	if (bg->pidfd >= 0)
		(void)close(bg->pidfd);
	free(bg->err_path);
	free(bg);
}

long run_proc_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return v;
}

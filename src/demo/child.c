/*
 * The daemon under demonstration: `cmhook serve` started from
 * /proc/self/exe (so the demo always runs the binary it belongs to) with an
 * environment we build, in a directory of our choice, so that no setting of
 * the user's .env can leak in. Its stderr comes through a pipe that a thread
 * drains, keeping the tail for error reports and spotting the
 * `msg=listening ... port=N` line. The child is told to die with us
 * (PR_SET_PDEATHSIG), so an interrupted demo leaves no daemon behind.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#define SELF_EXE      "/proc/self/exe"
#define WAIT_SLICE_MS 200
#define READ_CHUNK    4096

struct cmh_demo_child {
	pid_t pid;
	int err_fd;                 /* read end of the child's stderr */
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cmh_buf log;         /* the tail of stderr, at most 2 * CMH_DEMO_LOG_KEEP */
	bool eof;                   /* the child closed stderr: it has exited */
	uint16_t port;              /* from the listening line, 0 until seen */
	bool reaped;
	int exit_code;
};

/* The port of a complete `msg=listening` line in the log, or 0. */
static uint16_t listening_port(const struct cmh_buf *log)
{
	const char *line = strstr(log->data, "msg=listening ");
	const char *eol, *p;
	char digits[8];
	uint64_t v;
	size_t n;

	if (!line || !(eol = strchr(line, '\n')))
		return 0;
	p = strstr(line, " port=");
	if (!p || p > eol)
		return 0;
	p += 6;
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(digits))
		return 0;
	memcpy(digits, p, n);
	digits[n] = '\0';
	if (cmh_parse_u64(digits, &v) || v == 0 || v > 65535)
		return 0;
	return (uint16_t)v;
}

/* Keep the log bounded: drop the older half when it is full. */
static void log_append(struct cmh_demo_child *c, const char *p, size_t n)
{
	if (c->log.len + n > c->log.max) {
		size_t keep = c->log.len / 2;
		char *tail = malloc(keep + 1);

		if (tail) {
			memcpy(tail, c->log.data + c->log.len - keep, keep);
			cmh_buf_reset(&c->log);
			(void)!cmh_buf_add(&c->log, tail, keep);
			free(tail);
		}
	}
	if (n > c->log.max - c->log.len)
		n = c->log.max - c->log.len;
	(void)!cmh_buf_add(&c->log, p, n);
}

static void *reader_main(void *arg)
{
	struct cmh_demo_child *c = arg;
	char chunk[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(c->err_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&c->mu);
		if (n > 0) {
			log_append(c, chunk, (size_t)n);
			if (!c->port)
				c->port = listening_port(&c->log);
		} else {
			c->eof = true;
		}
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		if (n <= 0)
			break;
	}
	return NULL;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void exec_serve(const char *const *env, const char *cwd, int err_w, int null_fd,
				 pid_t parent)
{
	static char *const argv[] = { "cmhook", "serve", NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(127);
	if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(err_w, 2) < 0 || chdir(cwd) != 0)
		_exit(127);
	execve(SELF_EXE, argv, (char *const *)env);
	_exit(127);
}

enum cmh_err cmh_demo_child_start(const char *const *env, const char *cwd,
	struct cmh_demo_child **ret, struct cmh_buf *errmsg)
{
	struct cmh_demo_child *c = calloc(1, sizeof(*c));
	int pipefd[2] = { -1, -1 }, null_fd = -1;
	pid_t parent = getpid();

	if (!c)
		return CMH_ERR_NOMEM;
	c->pid = -1;
	c->err_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	cmh_buf_init(&c->log, 2 * CMH_DEMO_LOG_KEEP);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || pipe2(pipefd, O_CLOEXEC) != 0)
		goto fail;
	c->pid = fork();
	if (c->pid < 0)
		goto fail;
	if (c->pid == 0)
		exec_serve(env, cwd, pipefd[1], null_fd, parent);
	close(pipefd[1]);
	close(null_fd);
	c->err_fd = pipefd[0];
	if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
		cmh_errf(errmsg, "cannot start a thread");
		cmh_demo_child_free(c);
		return CMH_ERR_INTERNAL;
	}
	c->reader_started = true;
	*ret = c;
	return CMH_OK;
fail:
	cmh_errf(errmsg, "cannot start cmhook serve: %s", strerror(errno));
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (null_fd >= 0)
		close(null_fd);
	cmh_demo_child_free(c);
	return CMH_ERR_IO;
}

enum cmh_err cmh_demo_child_wait_port(struct cmh_demo_child *c, unsigned timeout_ms,
	const cmh_demo_stop_flag *stop, uint16_t *ret_port)
{
	struct timespec slice;
	unsigned waited = 0;
	enum cmh_err err;

	pthread_mutex_lock(&c->mu);
	while (!c->port && !c->eof && waited < timeout_ms && !(stop && *stop)) {
		cmh_demo_deadline_in(&slice, WAIT_SLICE_MS);
		if (pthread_cond_timedwait(&c->cv, &c->mu, &slice))
			waited += WAIT_SLICE_MS;
	}
	if (c->port) {
		*ret_port = c->port;
		err = CMH_OK;
	} else {
		err = c->eof || (stop && *stop) ? CMH_ERR_UNAVAILABLE : CMH_ERR_TIMEOUT;
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* Wait until stderr is closed (the child exited) or timeout_ms passed. */
static bool wait_eof(struct cmh_demo_child *c, unsigned timeout_ms)
{
	struct timespec until;
	bool eof;

	cmh_demo_deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&c->mu);
	while (!c->eof) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &until))
			break;
	}
	eof = c->eof;
	pthread_mutex_unlock(&c->mu);
	return eof;
}

static void reap(struct cmh_demo_child *c)
{
	int status = 0;

	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	c->reaped = true;
	c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cmh_demo_child_stop(struct cmh_demo_child *c, unsigned timeout_ms)
{
	if (!c || c->pid <= 0)
		return -1;
	if (c->reaped)
		return c->exit_code;
	(void)kill(c->pid, SIGTERM);
	if (!wait_eof(c, timeout_ms))
		(void)kill(c->pid, SIGKILL);
	reap(c);
	if (c->reader_started) {
		pthread_join(c->reader, NULL);
		c->reader_started = false;
	}
	return c->exit_code;
}

void cmh_demo_child_log_tail(struct cmh_demo_child *c, size_t max_bytes, struct cmh_buf *out)
{
	const char *start;

	pthread_mutex_lock(&c->mu);
	start = c->log.data;
	if (c->log.len > max_bytes) {
		start = c->log.data + c->log.len - max_bytes;
		/* Begin at a line. */
		const char *nl = memchr(start, '\n', c->log.len - (size_t)(start - c->log.data));

		if (nl)
			start = nl + 1;
	}
	cmh_buf_reset(out);
	(void)!cmh_buf_add(out, start, c->log.len - (size_t)(start - c->log.data));
	pthread_mutex_unlock(&c->mu);
}

void cmh_demo_child_free(struct cmh_demo_child *c)
{
	if (!c)
		return;
	if (c->pid > 0 && !c->reaped) {
		(void)kill(c->pid, SIGKILL);
		reap(c);
	}
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	if (c->err_fd >= 0)
		close(c->err_fd);
	cmh_buf_release(&c->log);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/*
 * The logger. Level is process-wide and set once at start-up (atomic so that
 * worker threads read it safely). Lines are assembled in a stack buffer and
 * written whole; an over-long line is cut, never split.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define Q_SLOTS 8
#define Q_INPUT_MAX 160
#define Q_SLOT_SIZE (Q_INPUT_MAX * 4 + 8)

static atomic_int log_level = CMH_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void cmh_log_set_level(enum cmh_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool cmh_log_enabled(enum cmh_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

enum cmh_err cmh_log_parse_level(const char *s, enum cmh_log_level *ret_level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*ret_level = (enum cmh_log_level)i;
			return CMH_OK;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*ret_level = CMH_LOG_WARN;
		return CMH_OK;
	}
	return CMH_ERR_CONFIG;
}

static bool needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return true;
	}
	return false;
}

/* Escape s[0..n) into out (size >= n*4+8); returns out. */
static char *escape_value(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	bool cut = n > Q_INPUT_MAX;
	bool quote = needs_quotes(s, n);
	char *p = out;

	if (cut)
		n = Q_INPUT_MAX;
	if (quote)
		*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < ' ' || c >= 0x7f) {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else {
			*p++ = (char)c;
		}
	}
	if (cut) {
		memcpy(p, "...", 3);
		p += 3;
	}
	if (quote)
		*p++ = '"';
	*p = '\0';
	return out;
}

const char *cmh_qn(const char *s, size_t n)
{
	static _Thread_local char ring[Q_SLOTS][Q_SLOT_SIZE];
	static _Thread_local unsigned next;
	char *slot;

	if (!s)
		return "-";
	slot = ring[next++ % Q_SLOTS];
	return escape_value(slot, s, n);
}

const char *cmh_q(const char *s)
{
	return s ? cmh_qn(s, strlen(s)) : "-";
}

static size_t format_timestamp(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, size, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return n;
}

void cmh_log_emit(enum cmh_log_level level, const char *mod, const char *msg,
		  const char *kvfmt, ...)
{
	char line[LOG_LINE_MAX];
	char msgq[Q_SLOT_SIZE];
	size_t n;
	int r;
	va_list ap;

	n = format_timestamp(line, sizeof(line));
	escape_value(msgq, msg, strlen(msg) > Q_INPUT_MAX ? Q_INPUT_MAX : strlen(msg));
	r = snprintf(line + n, sizeof(line) - n, "level=%s mod=%s msg=%s",
		     level_names[level], mod, msgq);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (kvfmt && kvfmt[0] && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_start(ap, kvfmt);
		r = vsnprintf(line + n, sizeof(line) - n, kvfmt, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: stderr is unbuffered and shared by threads. */
	(void)!write(STDERR_FILENO, line, n);
}

/*
 * Logging to stderr: one line per event, written with a single write(2) so lines from
 * one process never interleave. The format follows who reads stderr: journald (syslog
 * priority prefix) or a person (UTC timestamp).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	8192

static enum log_level	 log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* The syslog priorities journald reads from a "<N>" prefix. */
static const int syslog_priority[] = {
	[LOG_LEVEL_ERROR] = 3,
	[LOG_LEVEL_WARN] = 4,
	[LOG_LEVEL_INFO] = 6,
	[LOG_LEVEL_DEBUG] = 7,
};

void
log_set_level(enum log_level level)
{
	log_level = level;
}

bool
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(level_names[i], name) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to complain */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void	log_write(enum log_level, const char *, const char *, const char *,
		    va_list) __attribute__((format(printf, 4, 0)));

static void
log_write(enum log_level level, const char *module, const char *suffix,
    const char *fmt, va_list ap)
{
	char		 message[LOG_LINE_MAX], line[LOG_LINE_MAX + 128], stamp[32];
	struct timespec	 now;
	struct tm	 tm;
	size_t		 len;
	int		 n;

	if (vsnprintf(message, sizeof(message), fmt, ap) >= (int)sizeof(message))
		memcpy(message + sizeof(message) - 4, "...", 4);
	if (getenv("JOURNAL_STREAM") != NULL)
		n = snprintf(line, sizeof(line), "<%d>%s %s: %s%s", syslog_priority[level],
		    level_names[level], module, message, suffix);
	else {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s: %s%s", stamp,
		    now.tv_nsec / 1000000, level_names[level], module, message, suffix);
	}
	if (n < 0)
		return;
	len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	/* A value with a newline must not be able to forge a second log line. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
}

void
log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_write(level, module, "", fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

noreturn void
fatal(const char *fmt, ...)
{
	char	suffix[256];
	va_list	ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERROR, program_invocation_short_name, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

noreturn void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_LEVEL_ERROR, program_invocation_short_name, "", fmt, ap);
	va_end(ap);
	exit(1);
}

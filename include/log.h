/*
 * Logging to stderr, one line per event: level, module, message. Under systemd
 * (JOURNAL_STREAM set) each line carries the <N> syslog priority prefix that journald
 * reads; on a terminal it carries a timestamp instead.
 */
#ifndef ICTMON_LOG_H
#define ICTMON_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void	log_set_level(enum log_level level);
bool	log_level_parse(const char *name, enum log_level *out);
bool	log_enabled(enum log_level level);

void	log_msg(enum log_level level, const char *module, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_error(module, ...)	log_msg(LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define log_warn(module, ...)	log_msg(LOG_LEVEL_WARN, module, __VA_ARGS__)
#define log_info(module, ...)	log_msg(LOG_LEVEL_INFO, module, __VA_ARGS__)
#define log_debug(module, ...)	log_msg(LOG_LEVEL_DEBUG, module, __VA_ARGS__)

/* Log at error level and exit(1); fatal appends strerror(errno), fatalx does not. */
noreturn void	fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* Logging for certpickd and the certpick command: to the journal when
 * systemd started the process, to stderr otherwise. Levels are syslog's.
 * Never pass a key, a passphrase or a whole certificate; bound peer strings
 * with a precision such as %.100s. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* Sets the program name and whether debug messages are shown. Without a
 * call, messages go to stderr as "certpick: ...", debug ones dropped. */
void cp_log_init(const char *ident, bool verbose);

/* Sends later messages to the journal when the system runs one, for a
 * daemon whose stderr leads nowhere. Returns true when they go there. */
bool cp_log_to_journal_if_running(void);

/* Returns true when debug messages are shown. */
bool cp_log_verbose(void);

void cp_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) cp_log(LOG_ERR, __VA_ARGS__)
#define log_warning(...) cp_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) cp_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) cp_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) cp_log(LOG_DEBUG, __VA_ARGS__)

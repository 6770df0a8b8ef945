/* The logging module: the journal or stderr, by syslog priority. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static const char *log_ident = "certpick";
static bool log_debug_enabled;
static bool log_to_journal;

/* systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected
 * to stderr; when stderr is still that stream, structured journal entries
 * keep their priority. */
static bool
stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!stream || sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void
cp_log_init(const char *ident, bool verbose)
{
	log_ident = ident;
	log_debug_enabled = verbose;
	log_to_journal = stderr_is_journal();
}

/* The socket of systemd's journal, which sd_journal_send writes to. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

bool
cp_log_to_journal_if_running(void)
{
	if (access(JOURNAL_SOCKET, W_OK) == 0)
		log_to_journal = true;
	return log_to_journal;
}

bool
cp_log_verbose(void)
{
	return log_debug_enabled;
}

static const char *
priority_prefix(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	}
	return "";
}

void
cp_log(int priority, const char *fmt, ...)
{
	char message[1024];
	int saved_errno = errno;
	va_list ap;

	if (priority == LOG_DEBUG && !log_debug_enabled)
		return;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	/* Messages quote what peers and files hold (ids, member names,
	 * paths): a line break there would forge a log line of its own, and
	 * an escape sequence would reach the terminal. */
	for (unsigned char *p = (unsigned char *)message; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';

	if (log_to_journal)
		sd_journal_send("MESSAGE=%s", message, "PRIORITY=%d", priority,
				"SYSLOG_IDENTIFIER=%s", log_ident, NULL);
	else
		fprintf(stderr, "%s: %s%s\n", log_ident,
			priority_prefix(priority), message);
	errno = saved_errno;
}

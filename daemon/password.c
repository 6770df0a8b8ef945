/* Reading passwords for the certpick command, from a file or from the
 * controlling terminal with echo turned off. */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"

/* Signals that would otherwise leave the terminal without echo. */
static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT,
				      SIGTSTP};
#define N_RESTORE_SIGNALS (sizeof(restore_signals) / sizeof(restore_signals[0]))

static volatile sig_atomic_t caught_signal;

static void
catch_signal(int signal)
{
	caught_signal = signal;
}

/* Reads the file's first line. The file is read in full, so that a
 * password longer than the buffer is an error, not silently cut. */
static int
read_password_file(const char *path, char *buffer, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n = 0;
	char *newline;

	if (fd < 0) {
		log_error("cannot open the password file %s: %s", path,
			  strerror(errno));
		return -1;
	}
	while (len < size && (n = read(fd, buffer + len, size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n < 0 || len >= size) {
		log_error(n < 0 ? "cannot read the password file %s"
				: "the password file %s is too long",
			  path);
		OPENSSL_cleanse(buffer, len);
		return -1;
	}

	buffer[len] = '\0';
	newline = memchr(buffer, '\n', len);
	if (newline) {
		len = (size_t)(newline - buffer);
		if (len > 0 && buffer[len - 1] == '\r')
			len--;
	}
	buffer[len] = '\0';
	if (memchr(buffer, '\0', len)) {
		log_error("the password file %s contains a NUL byte", path);
		OPENSSL_cleanse(buffer, size);
		return -1;
	}
	return (int)len;
}

/* Reads one line from the terminal with echo off. Returns its length, or
 * -1. A signal restores the terminal before it takes effect. */
static int
read_line_quietly(int fd, char *buffer, size_t size)
{
	size_t len = 0;
	bool too_long = false, nul = false;
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR && !caught_signal)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		nul |= c == '\0';
		if (len + 1 < size)
			buffer[len++] = c;
		else
			too_long = true;
	}
	buffer[len] = '\0';
	if (caught_signal || too_long || nul) {
		OPENSSL_cleanse(buffer, size);
		if (too_long)
			log_error("the password is longer than %zu bytes",
				  size - 1);
		else if (nul)
			log_error("the password typed contains a NUL byte "
				  "(Ctrl-@), which certpick cannot pass on; "
				  "type it again without one");
		return -1;
	}
	return (int)len;
}

static int
read_terminal(char *buffer, size_t size, const char *prompt,
	      struct cp_password_source *source)
{
	struct sigaction catcher = {.sa_handler = catch_signal};
	struct sigaction saved_actions[N_RESTORE_SIGNALS];
	struct termios saved, quiet;
	int fd, r;

	/* Without a controlling terminal, open fails at once (ENXIO), so a
	 * batch job fails rather than waiting for input. */
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &saved) < 0) {
		source->no_terminal = true;
		if (fd >= 0)
			close(fd);
		return -1;
	}

	caught_signal = 0;
	sigemptyset(&catcher.sa_mask);
	for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
		sigaction(restore_signals[i], &catcher, &saved_actions[i]);

	/* Echo goes off before the prompt appears, so nothing typed in
	 * answer to the prompt is ever shown. */
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0 ||
	    write(fd, prompt, strlen(prompt)) < 0)
		r = -1;
	else
		r = read_line_quietly(fd, buffer, size);
	tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);

	for (size_t i = 0; i < N_RESTORE_SIGNALS; i++)
		sigaction(restore_signals[i], &saved_actions[i], NULL);
	if (caught_signal)
		raise(caught_signal);
	return r;
}

int
cp_password_ask(char *buffer, size_t size, const char *prompt, void *arg)
{
	struct cp_password_source *source = arg;

	if (size == 0)
		return -1;
	if (source->calls++ > 0 && source->file)
		return -1;
	if (source->file)
		return read_password_file(source->file, buffer, size);
	return read_terminal(buffer, size, prompt, source);
}

/* Passwords for the certpick command: read from a file given with
 * --password-file, or typed at the terminal without echo. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cp_password_source {
	const char *file; /* NULL: ask on the terminal */
	int calls;
	/* Set when a password was needed, but no terminal could be opened to
	 * ask for it; the caller says how to give one instead. */
	bool no_terminal;
};

/* A cp_password_cb (store.h) whose arg is a struct cp_password_source. A
 * password file yields its first line, once: a second call means that
 * the password was wrong, and returns -1. The terminal is asked on every
 * call. Returns the password's length, or -1 with a message on stderr. */
int cp_password_ask(char *buffer, size_t size, const char *prompt, void *arg);

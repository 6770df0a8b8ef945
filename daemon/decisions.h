/* Remembered decisions: which identity (or none) to present to a server,
 * keyed by host and port. Session decisions last until certpickd exits;
 * "always" decisions are also kept in a file, which is rewritten
 * atomically on every change. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

enum cp_decision_scope {
	CP_SCOPE_SESSION,
	CP_SCOPE_ALWAYS,
};

struct cp_decision {
	char *host;
	int port;
	char *id;    /* NULL: send no certificate (session scope only) */
	char *label; /* NULL with id */
	enum cp_decision_scope scope;
	time_t created;
};

struct cp_decisions;

/* Returns the default file: $XDG_STATE_HOME/certpick/decisions.json, else
 * ~/.local/state/certpick/decisions.json, in buffer. Returns -1 with a
 * message in err when no home directory is known. */
int cp_decisions_default_path(char *buffer, size_t size, char *err,
			      size_t err_size);

/* Loads the "always" decisions from path, which may be missing. A file
 * that is not valid as a whole (not a regular file of at most 16 MiB, not
 * JSON, another version) is renamed to PATH.corrupt-TIMESTAMP with a
 * warning, and the decisions start empty. An invalid entry (a member
 * missing or out of range, an invalid host, a second entry for the same
 * host and port) is left out with a warning. The file is then copied to
 * PATH.corrupt-TIMESTAMP and rewritten with the other entries, their hosts
 * normalized. Returns 0, or -1 with a message in err when the file exists
 * but cannot be read or moved aside. */
int cp_decisions_open(const char *path, struct cp_decisions **out, char *err,
		      size_t err_size);

void cp_decisions_free(struct cp_decisions *decisions);

/* Returns the decision for host:port (host already normalized), or NULL.
 * The pointer is valid until the next change. */
const struct cp_decision *cp_decisions_find(struct cp_decisions *decisions,
					    const char *host, int port);

/* Remembers a decision, replacing any for host:port. A NULL id is kept for
 * the session only, whatever the scope. Returns 0, or -1 with a message in
 * err when the file could not be written, in which case the decision lasts
 * for this session only. */
int cp_decisions_set(struct cp_decisions *decisions, const char *host, int port,
		     const char *id, const char *label,
		     enum cp_decision_scope scope, char *err, size_t err_size);

/* Called for each forgotten decision, before it is freed. */
typedef void (*cp_decision_forgotten_fn)(const struct cp_decision *decision,
					 void *arg);

/* Forgets the decisions for host (every one when host is NULL) and port
 * (any port when port is negative), and, when id is not NULL, only those
 * that name this identity. Returns how many were forgotten, or -1 with a
 * message in err when the file could not be rewritten (they are forgotten
 * from memory all the same). */
int cp_decisions_forget(struct cp_decisions *decisions, const char *host,
			int port, const char *id,
			cp_decision_forgotten_fn forgotten, void *arg,
			char *err, size_t err_size);

/* Describes every decision as org.certpick.Agent's Decision type, in a new
 * JSON array. */
json_t *cp_decisions_to_json(const struct cp_decisions *decisions);

/* Formats t as an RFC 3339 UTC string, such as "2024-05-01T12:00:00Z". */
void cp_format_time(time_t t, char *buffer, size_t size);

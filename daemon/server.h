/* certpickd's Varlink server: accepts connections from the daemon's own
 * user, decodes calls within the limits of daemon-limits.h, checks their
 * parameters against org.certpick.Agent, serves org.varlink.service, and
 * sends replies in call order. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "varlink-idl.h"

struct cp_server;
struct cp_conn;
struct cp_call;

/* Runs one method. Parameters are already checked against the interface and
 * are borrowed for the duration of the handler. The handler replies with
 * cp_call_reply or cp_call_error, now or later, exactly once; before that
 * it may stream replies with cp_call_continue. */
typedef void (*cp_method_fn)(struct cp_call *call, json_t *parameters,
			     void *conn_data);

struct cp_method {
	const char *name; /* short name, such as "Select" */
	cp_method_fn run;
};

struct cp_server_config {
	const struct vl_interface *interface; /* the served interface */
	const struct cp_method *methods;
	size_t n_methods;
	const char *version; /* for GetInfo */
	/* Called for each new connection; returns its data (passed to the
	 * handlers), or NULL to close it when out of memory. */
	void *(*conn_open)(struct cp_conn *conn, void *arg);
	/* Called before a connection is freed, while its unanswered calls
	 * still exist: the callee drops every reference to them and to the
	 * connection, and frees its data. */
	void (*conn_close)(struct cp_conn *conn, void *conn_data, void *arg);
	void *arg;
};

/* Serves the listening socket listen_fd (which the server then owns).
 * config must outlive the server. Returns NULL with a message in err. */
struct cp_server *cp_server_new(struct event_base *base, int listen_fd,
				const struct cp_server_config *config,
				char *err, size_t err_size);

/* Stops accepting connections. */
void cp_server_stop_listening(struct cp_server *server);

/* Writes what is buffered for each connection, waiting at most timeout_ms
 * in all, then closes every connection and frees the server. */
void cp_server_free(struct cp_server *server, int timeout_ms);

/* The connection's peer as the kernel reported it at accept. */
pid_t cp_conn_pid(const struct cp_conn *conn);
uid_t cp_conn_uid(const struct cp_conn *conn);

/* The peer's command name (/proc/PID/comm) and executable (/proc/PID/exe,
 * empty when it cannot be read), read at the first request and cached. */
const char *cp_conn_command(struct cp_conn *conn);
const char *cp_conn_executable(struct cp_conn *conn);

struct cp_conn *cp_call_conn(const struct cp_call *call);
const char *cp_call_method(const struct cp_call *call);

/* Returns true when the client called with "more" and so accepts several
 * replies. */
bool cp_call_more(const struct cp_call *call);

/* Sends the final reply (or error) to the call and frees the call. Each
 * steals parameters (NULL: empty). */
void cp_call_reply(struct cp_call *call, json_t *parameters);
void cp_call_error(struct cp_call *call, const char *error, json_t *parameters);

/* Sends one reply with "continues" to a call made with "more"; the call
 * stays open. Returns 0, or -1 when the client reads too slowly, in which
 * case the connection is being closed and the caller must not use the call
 * again (conn_close follows). */
int cp_call_continue(struct cp_call *call, json_t *parameters);

/* Shorthands for the errors of org.certpick.Agent and org.varlink.service.
 * name is the short error name, such as "NoCertificate". */
void cp_call_agent_error(struct cp_call *call, const char *name,
			 json_t *parameters);
void cp_call_invalid_parameter(struct cp_call *call, const char *parameter);

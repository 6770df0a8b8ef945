/* Finding and calling certpickd: the socket path, connecting (starting the
 * daemon when asked to), and blocking calls. The client library and the
 * certpick command share these. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Writes the agent's socket path into buffer: $CERTPICK_SOCKET, else
 * $XDG_RUNTIME_DIR/certpick/socket. Returns 0, or -1 with a message in err
 * when neither variable is set or the path does not fit. */
int cp_agent_socket_path(char *buffer, size_t size, char *err, size_t err_size);

/* Connects to the agent's socket. With autostart, a missing or dead socket
 * starts certpickd ($CERTPICKD, else the installed one) and waits up to
 * CP_AGENT_START_TIMEOUT_MS for it. A server that runs as another user is
 * rejected. Returns a blocking, close-on-exec socket, or -1 with a message
 * in err. */
int cp_agent_connect(bool autostart, char *err, size_t err_size);

#define CP_AGENT_START_TIMEOUT_MS 5000

/* A reply to a blocking call. */
struct cp_agent_reply {
	json_t *message;    /* the whole message; free with json_decref */
	const char *error;  /* NULL for a reply */
	json_t *parameters; /* borrowed from message */
};

/* Sends one call on fd and waits up to timeout_ms (negative: forever) for
 * its reply. Writes with MSG_NOSIGNAL, so a dead agent cannot raise
 * SIGPIPE. Nothing else may read fd meanwhile: bytes after the reply are
 * discarded. Returns 0 with *reply set (an error reply is still 0), or -1
 * with a message in err when the call could not be made or no valid reply
 * arrived in time. */
int cp_agent_call(int fd, const char *method, json_t *parameters,
		  int timeout_ms, struct cp_agent_reply *reply, char *err,
		  size_t err_size);

void cp_agent_reply_clear(struct cp_agent_reply *reply);

/* Checks a reply from certpickd against org.certpick.Agent: the output of
 * method (its short name, such as "Select") when error is NULL, else the
 * parameters of the error, which the interface must declare. Errors of
 * other interfaces, such as org.varlink.service's, pass unchecked. Returns
 * 0, or -1 with a message in err that names the wrong member. */
int cp_agent_check_reply(const char *method, const char *error,
			 const json_t *parameters, char *err, size_t err_size);

/* Sends a whole buffer with MSG_NOSIGNAL, waiting on poll when the socket
 * is non-blocking. Returns 0, or -1 with errno set. */
int cp_send_all(int fd, const void *data, size_t len, int timeout_ms);

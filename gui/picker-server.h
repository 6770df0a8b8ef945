/* The picker's Varlink server: org.certpick.Picker and
 * org.varlink.service on the one socket that certpickd passed, run from
 * the GLib main loop. Replies leave in the order of the calls, as Varlink
 * requires, so a reply to a later call waits for a pending Choose. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

struct picker_server;

/* A call not replied to yet. Exactly one of picker_server_reply and
 * picker_server_fail completes it and frees it. */
struct picker_call;

struct picker_server_handlers {
	/* A Choose call whose parameters match the interface. The handler
	 * owns call and completes it now or later. */
	void (*choose)(struct picker_call *call, const json_t *parameters,
		       void *user_data);
	/* A Close call. The server replies once the handler returns, so a
	 * Choose that the handler fails comes out first. */
	void (*close)(int64_t dialog, const char *reason, void *user_data);
	/* certpickd closed the socket, or sent something that ended the
	 * connection (failed is then true). */
	void (*disconnected)(bool failed, void *user_data);
};

/* Serves on fd, which the server makes non-blocking and, on success, owns.
 * Returns NULL with a message in error when fd cannot be set up or an
 * interface definition cannot be parsed. */
struct picker_server *picker_server_new(
	int fd, const struct picker_server_handlers *handlers, void *user_data,
	GError **error);

/* Closes the socket and frees the calls not replied to yet, so complete
 * every struct picker_call, or stop using it, first. */
void picker_server_free(struct picker_server *server);

/* Replies to call with parameters (the reference is stolen; NULL for an
 * empty object). */
void picker_server_reply(struct picker_server *server, struct picker_call *call,
			 json_t *parameters);

/* Fails call with an error of the interface, such as
 * "org.certpick.Picker.Withdrawn"; parameters as for picker_server_reply. */
void picker_server_fail(struct picker_server *server, struct picker_call *call,
			const char *error, json_t *parameters);

/* The libevent adapter of the Varlink core: takes messages from and adds
 * messages to an evbuffer, with the same limits as struct vl_reader. */
#pragma once

#include <event2/buffer.h>
#include <jansson.h>

/* Takes the next complete message from input. Returns 1 with *out set, 0
 * when no whole message is buffered, VL_E_TOO_LARGE when the buffered
 * message already exceeds VL_MESSAGE_MAX (close the connection), or another
 * negative vl_status for a message that was consumed but not decoded. */
int vl_evbuffer_next(struct evbuffer *input, json_t **out);

/* Works like vl_evbuffer_next, but looks for the end of the message only
 * past *scanned, the number of bytes at the start of input already known
 * to hold no NUL, and updates it. Start it at 0, and reset it when you
 * drain input yourself. A large message arrives in many reads, and this
 * saves scanning its beginning again after each. */
int vl_evbuffer_next_scan(struct evbuffer *input, size_t *scanned,
			  json_t **out);

/* Appends msg and its NUL terminator to output. Returns 0, or -1 when out
 * of memory or when msg encodes to more than VL_MESSAGE_MAX. */
int vl_evbuffer_add(struct evbuffer *output, const json_t *msg);

/* Sends msg and its NUL terminator on fd, the socket that output is
 * written to. It writes to fd only when output is empty, so that nothing
 * queued goes out after it. What the socket does not take at once, or all
 * of msg when output is not empty, is appended to output. A send error
 * other than EAGAIN leaves the message in output, where the next write
 * finds the error. Returns 0, or -1 with errno set as vl_message_encode
 * sets it (EMSGSIZE for a message over VL_MESSAGE_MAX) or to ENOMEM. */
int vl_evbuffer_send(struct evbuffer *output, evutil_socket_t fd,
		     const json_t *msg);

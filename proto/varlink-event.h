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

/* Appends msg and its NUL terminator to output. Returns 0, or -1 when out
 * of memory or when msg encodes to more than VL_MESSAGE_MAX. */
int vl_evbuffer_add(struct evbuffer *output, const json_t *msg);

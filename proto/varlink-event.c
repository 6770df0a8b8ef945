/* The libevent adapter of the Varlink core. */
#include "varlink-event.h"

#include <errno.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "varlink.h"

int
vl_evbuffer_next(struct evbuffer *input, json_t **out)
{
	size_t scanned = 0;

	return vl_evbuffer_next_scan(input, &scanned, out);
}

int
vl_evbuffer_next_scan(struct evbuffer *input, size_t *scanned, json_t **out)
{
	size_t length = evbuffer_get_length(input);
	struct evbuffer_ptr start, nul;
	unsigned char *frame;
	size_t len;
	int r;

	*out = NULL;
	if (*scanned > length)
		*scanned = 0;
	if (evbuffer_ptr_set(input, &start, *scanned, EVBUFFER_PTR_SET) < 0)
		return 0;
	nul = evbuffer_search(input, "", 1, &start);
	if (nul.pos < 0) {
		*scanned = length;
		return length >= VL_MESSAGE_MAX ? VL_E_TOO_LARGE : 0;
	}
	*scanned = 0;

	len = (size_t)nul.pos;
	if (len >= VL_MESSAGE_MAX)
		return VL_E_TOO_LARGE;

	frame = evbuffer_pullup(input, (ev_ssize_t)len + 1);
	if (!frame)
		return VL_E_NO_MEMORY;
	r = vl_message_decode((const char *)frame, len, out);

	/* The frame may hold a passphrase: wipe it before the chain frees
	 * it. */
	OPENSSL_cleanse(frame, len + 1);
	evbuffer_drain(input, len + 1);
	return r == VL_OK ? 1 : r;
}

int
vl_evbuffer_add(struct evbuffer *output, const json_t *msg)
{
	size_t len;
	char *buffer = vl_message_encode(msg, &len);
	int r;

	if (!buffer)
		return -1;
	r = evbuffer_add(output, buffer, len);
	vl_buffer_free(buffer, len);
	return r;
}

int
vl_evbuffer_send(struct evbuffer *output, evutil_socket_t fd, const json_t *msg)
{
	size_t len, sent = 0;
	char *buffer = vl_message_encode(msg, &len);
	int r = 0;

	if (!buffer)
		return -1;
	while (evbuffer_get_length(output) == 0) {
		ssize_t n = send(fd, buffer, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			sent = (size_t)n;
		break;
	}
	if (sent < len)
		r = evbuffer_add(output, buffer + sent, len - sent);
	vl_buffer_free(buffer, len);
	if (r < 0)
		errno = ENOMEM;
	return r;
}

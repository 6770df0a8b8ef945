/* The libevent adapter of the Varlink core. */
#include "varlink-event.h"

#include <openssl/crypto.h>

#include "varlink.h"

int
vl_evbuffer_next(struct evbuffer *input, json_t **out)
{
	struct evbuffer_ptr nul;
	unsigned char *frame;
	size_t len;
	int r;

	*out = NULL;
	nul = evbuffer_search(input, "", 1, NULL);
	if (nul.pos < 0)
		return evbuffer_get_length(input) >= VL_MESSAGE_MAX
			       ? VL_E_TOO_LARGE
			       : 0;

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

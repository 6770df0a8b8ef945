/* Fuzz target for the Varlink decoder: the input is fed in pieces to both
 * the plain-buffer reader and the evbuffer adapter, which must agree; every
 * decoded message is read as a call and as a reply, checked against the
 * certpick interfaces, and must survive an encode/decode round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "interfaces.h"
#include "varlink-event.h"
#include "varlink-idl.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vl_interface *agent, *picker;

static void
load_interfaces(void)
{
	if (agent)
		return;
	agent = vl_interface_parse(cp_agent_interface, NULL, 0);
	picker = vl_interface_parse(cp_picker_interface, NULL, 0);
	if (!agent || !picker)
		abort();
}

/* Checks a call's parameters against whichever interface it names. */
static void
check_call(json_t *msg)
{
	struct vl_call call;
	struct vl_reply reply;
	const char *dot, *problem;
	char bad[128];

	/* The reason logged for a rejected call must match the verdict. */
	problem = vl_call_problem(msg);
	if (vl_message_to_call(msg, &call) != VL_OK) {
		if (!problem)
			abort();
	} else {
		if (problem)
			abort();
		dot = strrchr(call.method, '.');
		if (dot && dot[1]) {
			vl_interface_check(agent, VL_CHECK_INPUT, dot + 1,
					   call.parameters, bad, sizeof(bad));
			vl_interface_check(picker, VL_CHECK_INPUT, dot + 1,
					   call.parameters, bad, sizeof(bad));
		}
	}
	if (vl_message_to_reply(msg, &reply) == VL_OK && reply.error) {
		dot = strrchr(reply.error, '.');
		if (dot && dot[1])
			vl_interface_check(agent, VL_CHECK_ERROR, dot + 1,
					   reply.parameters, bad, sizeof(bad));
	}
}

static void
check_round_trip(json_t *msg)
{
	size_t len;
	char *buffer = vl_message_encode(msg, &len);
	json_t *again;

	if (!buffer)
		return;
	if (vl_message_decode(buffer, len - 1, &again) != VL_OK)
		abort();
	if (!json_equal(msg, again))
		abort();
	json_decref(again);
	vl_buffer_free(buffer, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vl_reader reader = {0};
	struct evbuffer *input = evbuffer_new();
	size_t piece, offset = 0;
	int results[2] = {0, 0};
	json_t *msg;

	load_interfaces();
	if (size == 0 || !input) {
		evbuffer_free(input);
		return 0;
	}
	piece = (size_t)(data[0] % 61) + 1;
	data++;
	size--;

	while (offset < size) {
		size_t n = size - offset < piece ? size - offset : piece;
		int r;

		if (vl_reader_feed(&reader, data + offset, n) != VL_OK)
			break;
		evbuffer_add(input, data + offset, n);
		offset += n;
		while ((r = vl_reader_next(&reader, &msg)) != 0) {
			results[0]++;
			if (r == 1) {
				check_call(msg);
				check_round_trip(msg);
				json_decref(msg);
			}
		}
		while ((r = vl_evbuffer_next(input, &msg)) != 0) {
			results[1]++;
			json_decref(msg);
			if (r == VL_E_TOO_LARGE)
				break;
		}
	}
	/* Both decoders see the same frames. */
	if (offset == size && results[0] != results[1])
		abort();

	vl_reader_clear(&reader);
	evbuffer_free(input);
	return 0;
}

/* Fuzz target for libcertpick's reading of certpickd's reply to Select
 * (proto/certpick-ssl.c): the identity's id, label and base64 chain, the
 * key that signs through certpickd, and errors. The input is one reply
 * message. The reply must end as an answer or as a failure with a
 * message; an answer with an identity has its leaf, chain and key. No
 * connection is made: the key's link has no socket, and nothing here
 * signs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "certpick-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cp_agent_link *link_without_socket;

static void
init(void)
{
	char err[512];

	if (link_without_socket)
		return;
	if (cp_provider_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	/* The reference held here keeps the link from ever being closed. */
	link_without_socket = calloc(1, sizeof(*link_without_socket));
	if (!link_without_socket)
		abort();
	link_without_socket->fd = -1;
	link_without_socket->refs = 1;
}

static void
check_outcome(const struct cp_ssl_state *state)
{
	if (state->request == CP_REQUEST_FAILED) {
		if (!state->error[0] || state->leaf || state->key)
			abort();
		return;
	}
	if (state->request != CP_REQUEST_ANSWERED)
		abort();
	if (state->leaf &&
	    (!state->key || !state->chain || !state->id || !state->label))
		abort();
	if (!state->leaf && (state->key || state->id))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_ssl_state *state;
	json_t *message;

	init();
	if (vl_message_decode((const char *)data, size, &message) != VL_OK)
		return 0;
	state = calloc(1, sizeof(*state));
	if (!state)
		abort();
	state->link = link_without_socket;
	state->request = CP_REQUEST_PENDING;

	cp_ssl_take_reply(state, message);
	check_outcome(state);

	X509_free(state->leaf);
	sk_X509_pop_free(state->chain, X509_free);
	EVP_PKEY_free(state->key);
	free(state->id);
	free(state->label);
	free(state);
	json_decref(message);
	ERR_clear_error();
	return 0;
}

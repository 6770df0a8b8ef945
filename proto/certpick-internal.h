/* Declarations shared by the parts of libcertpick: the connection to
 * certpickd, the provider key that signs through it, and the per-SSL state
 * that the certificate callbacks and the libevent driver keep. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "certpick.h"
#include "varlink.h"

/* Time allowed for one Sign or ReportRejected call. A key from a file
 * signs in about a millisecond (RSA-2048) or less; a token is expected to
 * take a second or two at most, an estimate. */
#define CP_AGENT_CALL_TIMEOUT_MS 10000

/* Maximum length of a connection's error message, NUL included. */
#define CP_ERROR_MAX 512

/* Idle connections to certpickd kept for reuse in a process. */
#define CP_AGENT_POOL_MAX 4

/* One connection to certpickd. Select and Sign must use the same one,
 * because certpickd lets a connection sign only with identities that it
 * received from Select. The provider key holds a reference, so the link
 * outlives whichever of the SSL and the key is freed last. */
struct cp_agent_link {
	int fd;
	bool blocking; /* the socket's mode, kept when it is pooled */
	int refs;
	/* Set when a call failed or its reply may still arrive, so that the
	 * connection is closed rather than reused. */
	bool broken;
	/* The last Sign failure, for the handshake's error message. */
	char error[CP_ERROR_MAX];
};

/* Returns a link on an idle connection from this process's pool, or on a
 * new one (starting certpickd first with autostart). blocking sets the
 * socket's mode. Returns NULL with a message in err. */
struct cp_agent_link *cp_agent_link_open(bool autostart, bool blocking,
					 char *err, size_t err_size);
struct cp_agent_link *cp_agent_link_ref(struct cp_agent_link *link);

/* Drops a reference. The last one returns a clean connection to the pool
 * and closes a broken one. */
void cp_agent_link_unref(struct cp_agent_link *link);

/* Loads the certpick provider and the default provider into the default
 * library context, once. Returns 0, or -1 with a message in err. */
int cp_provider_init(char *err, size_t err_size);

/* Creates a key whose private operation is certpickd's Sign with identity
 * id on link. pub is the leaf certificate's public key; the new key takes
 * its own reference. Returns NULL with a message in err when the key type
 * is not one the provider signs with. */
EVP_PKEY *cp_remote_key_new(struct cp_agent_link *link, const char *id,
			    EVP_PKEY *pub, char *err, size_t err_size);

/* The state of a connection's certificate request. */
enum cp_request_state {
	CP_REQUEST_IDLE,     /* no request, or the last one was installed */
	CP_REQUEST_PENDING,  /* Select sent, reply not read yet */
	CP_REQUEST_ANSWERED, /* reply read, to be installed on the next call */
	CP_REQUEST_FAILED,   /* certpickd failed or cannot be reached */
};

/* Per-SSL state, kept in the SSL's ex_data and freed with the SSL. */
struct cp_ssl_state {
	char *host;
	unsigned port;
	unsigned flags;
	char *parent_window;

	struct cp_agent_link *link;
	struct vl_reader reader;
	enum cp_request_state request;

	/* The identity from the reply, until the callback installs it. No
	 * leaf means that certpickd replied "no certificate". */
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	char *id;
	char *label;

	/* The identity that went to the server, for -v output and for
	 * ReportRejected. */
	char *sent_id;
	char *sent_label;
	/* certpickd's reason for presenting none: "declined" or
	 * "none-eligible", or "" when it chose an identity or was not
	 * asked. */
	char none_reason[32];
	bool asked;	   /* the server requested a certificate */
	bool agent_failed; /* the request failed in certpickd or reaching it */
	bool handshake_done; /* the first handshake finished */
	bool saw_request;    /* TLS 1.3: CertificateRequest read */
	bool sent_early;     /* TLS 1.3: Select sent before the callback */

	/* The last fatal TLS alert received, from the info callback. */
	int alert_received;
	bool rejection_reported;

	int status; /* a certpick_status value for the last failure */
	char error[CP_ERROR_MAX];

	/* The bufferevent that carries the connection once it is open,
	 * with the driver's post-handshake state. */
	struct cp_bev_hook *hook;
};

/* Returns the state attached to ssl, or NULL. */
struct cp_ssl_state *cp_ssl_state_get(const SSL *ssl);

/* Returns the state attached to ssl, attaching a new one when there is
 * none. Returns NULL when out of memory. */
struct cp_ssl_state *cp_ssl_state_ensure(SSL *ssl);

/* Takes Select's reply into the state: the identity (with a key that
 * signs through state->link), "no certificate", which is a valid reply
 * and not a failure, or the failure. Sets state->request to
 * CP_REQUEST_ANSWERED or CP_REQUEST_FAILED. */
void cp_ssl_take_reply(struct cp_ssl_state *state, json_t *message);

/* Records a failure message and status in the state. */
void cp_ssl_fail(struct cp_ssl_state *state, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Frees the driver's post-handshake state; defined by the driver. */
void cp_bev_hook_free(struct cp_bev_hook *hook);

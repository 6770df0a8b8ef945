/* libcertpick: lets an OpenSSL 3 TLS client present the client
 * certificate that the person chooses through certpickd. The private key
 * stays in certpickd: the client signs through an in-process OpenSSL
 * provider that forwards each signature to certpickd.
 *
 * The usual way in, for a libevent program:
 *
 *	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
 *	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
 *	SSL_CTX_set_default_verify_paths(ctx);
 *	certpick_setup_ctx(ctx, err, sizeof(err));
 *	certpick_connect(base, ctx, fd, &options, on_connected, arg);
 *
 * The verify mode is the program's: without SSL_VERIFY_PEER, OpenSSL
 * accepts any server certificate.
 *
 * on_connected receives a bufferevent in the open state. Set its callbacks
 * with certpick_bufferevent_setcb, so that the library can handle
 * post-handshake certificate requests and report rejections.
 *
 * Other programs install certpick_cert_cb (or the drop-in
 * certpick_client_cert_cb) themselves and either pass CERTPICK_BLOCKING or
 * handle SSL_ERROR_WANT_X509_LOOKUP with certpick_ssl_agent_fd and
 * certpick_ssl_process.
 *
 * Process-wide effects of certpick_init: it loads the "default" provider
 * and the "certpick" provider into OpenSSL's default library context, and
 * sets the default property query to "?provider=default" (replacing one
 * that the application set), because the certpick provider registers its
 * key types under the standard names "RSA", "EC", "ED25519" and "ED448". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags in struct certpick_options. */
enum {
	/* When certpickd cannot be reached or fails the request, continue
	 * the handshake without a certificate and let the server decide.
	 * Without it the handshake fails. */
	CERTPICK_CONTINUE_WITHOUT_AGENT = 1 << 0,
	/* Start certpickd ($CERTPICKD, else the installed one) when its
	 * socket is missing. */
	CERTPICK_AUTOSTART = 1 << 1,
	/* Wait for certpickd's reply inside the certificate callback, for
	 * programs on blocking sockets that do not handle
	 * SSL_ERROR_WANT_X509_LOOKUP. The wait lasts as long as the person
	 * takes to choose, up to certpickd's own timeout. */
	CERTPICK_BLOCKING = 1 << 2,
};

/* Reasons for a failed connection. */
enum certpick_status {
	CERTPICK_OK = 0,
	/* The TCP connection failed, or the server closed it. */
	CERTPICK_E_NETWORK = 1,
	/* The handshake did not finish within the timeout. */
	CERTPICK_E_TIMEOUT = 2,
	/* The TLS handshake failed, including server certificate
	 * verification. */
	CERTPICK_E_TLS = 3,
	/* The server rejected the client certificate, or required one and
	 * none was sent. */
	CERTPICK_E_REJECTED = 4,
	/* certpickd cannot be reached, or failed the request. */
	CERTPICK_E_AGENT = 5,
	/* Out of memory or another local failure. */
	CERTPICK_E_INTERNAL = 6,
};

/* Default for certpick_options.timeout_ms. */
#define CERTPICK_DEFAULT_TIMEOUT_MS 30000

struct certpick_options {
	/* The server's host name or IP address: sent as SNI (names only),
	 * set as the name to verify the server certificate against, and
	 * sent to certpickd as the server's host. Required. */
	const char *host;
	/* The server's port, for certpickd's remembered decisions. */
	unsigned port;
	/* CERTPICK_* flags. */
	unsigned flags;
	/* The requesting window, in the xdg-desktop-portal form "x11:XID",
	 * so that the picker can be its child; NULL for none. */
	const char *parent_window;
	/* certpick_connect only: the time the network part of the handshake
	 * may take, in milliseconds, not counting the wait for the person's
	 * choice. 0 means CERTPICK_DEFAULT_TIMEOUT_MS. */
	int timeout_ms;
};

/* Loads the providers and sets the default properties (see above), once
 * per process; later calls return the first result. Thread-safe. Returns
 * 0, or -1 with a message in err. */
int certpick_init(char *err, size_t err_size);

/* Calls certpick_init, installs certpick_cert_cb as ctx's certificate
 * callback, and enables TLS 1.3 post-handshake authentication. Returns 0,
 * or -1 with a message in err. */
int certpick_setup_ctx(SSL_CTX *ctx, char *err, size_t err_size);

/* The certificate callback, for SSL_CTX_set_cert_cb(ctx, certpick_cert_cb,
 * NULL). OpenSSL calls it when the server requests a certificate, in TLS
 * 1.2, TLS 1.3 and post-handshake authentication. On the first call it
 * sends the request to certpickd and returns -1, so that the SSL call
 * fails with SSL_ERROR_WANT_X509_LOOKUP. Once the reply is in, the next
 * call installs the chosen certificate, its chain and its key with
 * SSL_use_cert_and_key, or nothing when the person chose to send no
 * certificate, and returns 1. It returns 0, which fails the handshake,
 * when certpickd cannot be reached or fails, unless
 * CERTPICK_CONTINUE_WITHOUT_AGENT is set. */
int certpick_cert_cb(SSL *ssl, void *arg);

/* The same, as a drop-in for SSL_CTX_set_client_cert_cb. OpenSSL calls it
 * only while no certificate is set on the SSL. It installs the chain itself
 * and returns 1 with new references to the certificate and key in *x509
 * and *pkey, 0 to send no certificate, or -1 to wait for certpickd. A
 * failure of certpickd sends no certificate; certpick_connect still fails
 * the handshake then, unless CERTPICK_CONTINUE_WITHOUT_AGENT is set. */
int certpick_client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey);

/* Sets what the certificate callbacks send to certpickd for ssl: the
 * server's host and port, the flags and the parent window. Also sets the
 * SNI (for a host name) and the name or address that certificate
 * verification checks, and an info callback on the SSL that records the
 * server's alerts and then calls the SSL_CTX's info callback; replacing it
 * with SSL_set_info_callback stops rejection reports. certpick_connect
 * calls this function; a program that drives the SSL itself calls it after
 * SSL_new, and again after SSL_clear for the next server. Without it, the
 * callbacks use the SNI or the peer's address as host and the peer's port.
 * When an SSL is reused after SSL_clear, its next handshake starts without
 * the certificate that certpick installed for the previous one. Returns 0,
 * or -1 when out of memory or host is invalid. */
int certpick_ssl_setup(SSL *ssl, const struct certpick_options *options);

/* The socket to wait on, for reading, after an SSL call failed with
 * SSL_ERROR_WANT_X509_LOOKUP; -1 when no request is waiting. */
int certpick_ssl_agent_fd(const SSL *ssl);

/* Reads certpickd's reply when certpick_ssl_agent_fd is readable.
 * Returns 1 when the reply (or a failure) is in and the SSL call should
 * be repeated, 0 when more must be read, -1 when no request is waiting. */
int certpick_ssl_process(SSL *ssl);

/* Checks, after the handshake or a read failed, whether the server
 * rejected the client certificate: a certificate alert received after
 * certpick sent one, or certificate_required after it sent none. When it
 * rejected one, tells certpickd (ReportRejected) so that a remembered
 * decision is dropped, once per connection. Returns true with the message
 * in certpick_ssl_error when the failure was a rejection. */
bool certpick_ssl_check_rejection(SSL *ssl);

/* The message of ssl's last certpick failure, or NULL. Owned by ssl. */
const char *certpick_ssl_error(const SSL *ssl);

/* The certpick_status of ssl's last failure, or CERTPICK_OK. */
int certpick_ssl_status(const SSL *ssl);

/* The label and id of the identity that certpick sent to the server, or
 * NULL when it sent none. Owned by ssl. */
const char *certpick_ssl_sent_label(const SSL *ssl);
const char *certpick_ssl_sent_id(const SSL *ssl);

/* certpickd's reason for presenting no certificate on ssl's connection:
 * "declined" when the person chose to send none (now, or in a decision
 * that certpickd remembers), "none-eligible" when no identity in the store
 * fits the server's request, so no dialog was shown. NULL when certpick sent
 * an identity or was not asked. Owned by ssl. */
const char *certpick_ssl_none_reason(const SSL *ssl);

/* Receives the result of certpick_connect. On success, status is
 * CERTPICK_OK and bev is a bufferevent_openssl in the open state that owns
 * the SSL and the socket (freeing it closes both). On failure, bev is NULL,
 * the socket is closed and message gives the reason. */
typedef void (*certpick_connect_cb)(struct bufferevent *bev, int status,
				    const char *message, void *arg);

struct certpick_connect;

/* Runs a TLS handshake on fd, a TCP socket that is connected or whose
 * non-blocking connect() is in progress, with a new SSL from ctx. The
 * library owns fd from this call on. Returns a handle that stays valid
 * until cb runs, or NULL (fd closed) when out of memory or when options
 * are invalid. cb runs from the event loop, never from within this call. */
struct certpick_connect *certpick_connect(
	struct event_base *base, SSL_CTX *ctx, evutil_socket_t fd,
	const struct certpick_options *options, certpick_connect_cb cb,
	void *arg);

/* Stops a handshake before its callback ran; the callback will not run.
 * Closes the socket. */
void certpick_connect_cancel(struct certpick_connect *connect);

/* Sets a bufferevent's callbacks like bufferevent_setcb, placing the
 * library in front: it handles post-handshake certificate requests
 * without involving eventcb, and before eventcb sees an error it checks
 * for a certificate rejection (see certpick_ssl_check_rejection). bev must
 * come from certpick_connect, or be a bufferevent_openssl whose SSL went
 * through certpick_ssl_setup. Returns 0, or -1 when out of memory. */
int certpick_bufferevent_setcb(struct bufferevent *bev,
			       bufferevent_data_cb readcb,
			       bufferevent_data_cb writecb,
			       bufferevent_event_cb eventcb, void *arg);

/* certpick_ssl_error for the SSL of a bufferevent_openssl. */
const char *certpick_bufferevent_error(struct bufferevent *bev);

#ifdef __cplusplus
}
#endif

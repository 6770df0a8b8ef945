/* The certificate callbacks: they send Select to certpickd when a server
 * requests a client certificate, and install the chosen identity on the
 * SSL. */
#include "certpick-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "base64.h"
#include "sigalgs.h"

#define CP_ERROR_PREFIX "org.certpick.Agent."

static int ex_index = -1;
static pthread_once_t ex_index_once = PTHREAD_ONCE_INIT;

/* Marks an SSL_CTX that certpick_setup_ctx set up, where Select may be
 * sent before OpenSSL calls the certificate callback. */
static int ctx_ex_index = -1;

static void
clear_choice(struct cp_ssl_state *state)
{
	X509_free(state->leaf);
	sk_X509_pop_free(state->chain, X509_free);
	EVP_PKEY_free(state->key);
	free(state->id);
	free(state->label);
	state->leaf = NULL;
	state->chain = NULL;
	state->key = NULL;
	state->id = NULL;
	state->label = NULL;
}

static void
state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	   void *argp)
{
	struct cp_ssl_state *state = ptr;

	if (!state)
		return;
	cp_bev_hook_free(state->hook);
	clear_choice(state);
	/* A reply still to come, or bytes beyond one, make the connection
	 * unfit for another request. */
	if (state->link && (state->request == CP_REQUEST_PENDING ||
			    vl_reader_has_partial(&state->reader)))
		state->link->broken = true;
	vl_reader_clear(&state->reader);
	cp_agent_link_unref(state->link);
	free(state->host);
	free(state->parent_window);
	free(state->sent_id);
	free(state->sent_label);
	free(state);
}

/* SSL_dup must not share the state, which would be freed twice. */
static int
state_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d,
	  int idx, long argl, void *argp)
{
	*from_d = NULL;
	return 1;
}

static void
make_ex_index(void)
{
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, state_dup, state_free);
	ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

struct cp_ssl_state *
cp_ssl_state_get(const SSL *ssl)
{
	pthread_once(&ex_index_once, make_ex_index);
	if (ex_index < 0)
		return NULL;
	return SSL_get_ex_data(ssl, ex_index);
}

static void select_early(SSL *ssl, struct cp_ssl_state *state);

/* Forgets the previous connection when a program reuses the SSL after
 * SSL_clear, which keeps the certificate installed. Otherwise OpenSSL
 * would not call client_cert_cb for the next server, because a certificate
 * is set, and would present the previous choice without asking. The
 * label, id and alerts of the previous connection would also be reported
 * for the next one. A certificate that the program set itself stays. */
static void
reset_for_new_connection(SSL *ssl, struct cp_ssl_state *state)
{
	if (state->leaf && SSL_get_certificate(ssl) == state->leaf)
		SSL_certs_clear(ssl);
	clear_choice(state);

	/* A reply still to come belongs to the previous server. */
	if (state->link && (state->request == CP_REQUEST_PENDING ||
			    vl_reader_has_partial(&state->reader))) {
		state->link->broken = true;
		cp_agent_link_unref(state->link);
		state->link = NULL;
	}
	vl_reader_clear(&state->reader);
	state->request = CP_REQUEST_IDLE;

	free(state->sent_id);
	free(state->sent_label);
	state->sent_id = NULL;
	state->sent_label = NULL;
	state->asked = false;
	state->agent_failed = false;
	state->handshake_done = false;
	state->saw_request = false;
	state->sent_early = false;
	state->alert_received = 0;
	state->rejection_reported = false;
	state->none_reason[0] = '\0';
	state->status = CERTPICK_OK;
	state->error[0] = '\0';
}

/* Records fatal alerts from the server, so that a rejection can be
 * distinguished from other failures, and sends an early Select in TLS 1.3.
 * Then calls the SSL_CTX's info callback. */
static void
info_callback(const SSL *ssl, int where, int ret)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);
	void (*ctx_callback)(const SSL *, int, int);

	/* A first handshake starts from the "before" state; a TLS 1.2
	 * renegotiation starts from the finished one and keeps the choice. */
	if (state && (where & SSL_CB_HANDSHAKE_START) && SSL_in_before(ssl))
		reset_for_new_connection((SSL *)ssl, state);
	if (state && (where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT &&
	    (ret >> 8) == SSL3_AL_FATAL)
		state->alert_received = ret & 0xff;
	if (state && (where & SSL_CB_HANDSHAKE_DONE))
		state->handshake_done = true;
	if (state && (where & SSL_CB_CONNECT_LOOP) == SSL_CB_CONNECT_LOOP)
		select_early((SSL *)ssl, state);

	ctx_callback = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
	if (ctx_callback)
		ctx_callback(ssl, where, ret);
}

struct cp_ssl_state *
cp_ssl_state_ensure(SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	if (state)
		return state;
	if (ex_index < 0)
		return NULL;
	state = calloc(1, sizeof(*state));
	if (!state)
		return NULL;
	if (!SSL_set_ex_data(ssl, ex_index, state)) {
		free(state);
		return NULL;
	}
	SSL_set_info_callback(ssl, info_callback);
	return state;
}

void
cp_ssl_fail(struct cp_ssl_state *state, int status, const char *fmt, ...)
{
	va_list ap;

	state->status = status;
	va_start(ap, fmt);
	vsnprintf(state->error, sizeof(state->error), fmt, ap);
	va_end(ap);
}

int
certpick_init(char *err, size_t err_size)
{
	pthread_once(&ex_index_once, make_ex_index);
	if (ex_index < 0) {
		snprintf(err, err_size,
			 "cannot reserve SSL ex_data for certpick");
		return -1;
	}
	return cp_provider_init(err, err_size);
}

int
certpick_setup_ctx(SSL_CTX *ctx, char *err, size_t err_size)
{
	if (certpick_init(err, err_size) < 0)
		return -1;
	if (ctx_ex_index < 0 || !SSL_CTX_set_ex_data(ctx, ctx_ex_index, ctx)) {
		snprintf(err, err_size, "cannot mark the SSL_CTX for certpick");
		return -1;
	}
	SSL_CTX_set_cert_cb(ctx, certpick_cert_cb, NULL);
	SSL_CTX_set_post_handshake_auth(ctx, 1);
	return 0;
}

static bool
is_ip_address(const char *host)
{
	unsigned char buffer[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buffer) == 1 ||
	       inet_pton(AF_INET6, host, buffer) == 1;
}

int
certpick_ssl_setup(SSL *ssl, const struct certpick_options *options)
{
	struct cp_ssl_state *state;
	char *host, *parent_window = NULL;
	int ok;

	if (!options || !options->host || !*options->host ||
	    options->port > 65535)
		return -1;
	state = cp_ssl_state_ensure(ssl);
	if (!state)
		return -1;
	host = strdup(options->host);
	if (options->parent_window)
		parent_window = strdup(options->parent_window);
	if (!host || (options->parent_window && !parent_window)) {
		free(host);
		free(parent_window);
		return -1;
	}
	free(state->host);
	free(state->parent_window);
	state->host = host;
	state->parent_window = parent_window;
	state->port = options->port;
	state->flags = options->flags;

	/* SNI carries host names only (RFC 6066 section 3). */
	if (is_ip_address(host))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else
		ok = SSL_set_tlsext_host_name(ssl, host) &&
		     SSL_set1_host(ssl, host);
	return ok ? 0 : -1;
}

/* Fills in the host and port from the SNI and the peer's address, for
 * programs that did not call certpick_ssl_setup. */
static int
guess_server(SSL *ssl, struct cp_ssl_state *state)
{
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	char text[INET6_ADDRSTRLEN];
	int fd = SSL_get_fd(ssl);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&addr, &len) < 0) {
		cp_ssl_fail(state, CERTPICK_E_INTERNAL,
			    "cannot tell which server requests a certificate: "
			    "call certpick_ssl_setup on the SSL first");
		return -1;
	}
	if (addr.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		state->port = ntohs(in->sin_port);
	} else if (addr.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		state->port = ntohs(in6->sin6_port);
	} else {
		cp_ssl_fail(state, CERTPICK_E_INTERNAL,
			    "the SSL's socket is not a TCP socket: call "
			    "certpick_ssl_setup on the SSL first");
		return -1;
	}
	state->host = strdup(sni ? sni : text);
	return state->host ? 0 : -1;
}

/* The server's acceptable CA names. OpenSSL 3.0 keeps TLS 1.2's list
 * here too. NULL (TLS 1.3 without the extension) leaves the member out;
 * an empty list (TLS 1.2 without names) is sent as []. */
static int
add_ca_names(json_t *parameters, SSL *ssl)
{
	const STACK_OF(X509_NAME) *names = SSL_get0_peer_CA_list(ssl);
	json_t *array;

	if (!names)
		return 0;
	array = json_array();
	if (!array || json_object_set_new(parameters, "ca_names", array) < 0)
		return -1;
	for (int i = 0; i < sk_X509_NAME_num(names); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509_NAME(sk_X509_NAME_value(names, i), &der);
		char *text;

		if (len <= 0)
			return -1;
		text = cp_base64_encode(der, (size_t)len);
		OPENSSL_free(der);
		/* Base64 is ASCII, so the UTF-8 check is skipped. */
		if (!text ||
		    json_array_append_new(array, json_string_nocheck(text))) {
			free(text);
			return -1;
		}
		free(text);
	}
	return 0;
}

/* The signature schemes that both the server's CertificateRequest and this
 * client accept, which are the ones a client key can actually sign with.
 * Schemes certpick does not know are left out. */
static int
add_sigalgs(json_t *parameters, SSL *ssl)
{
	/* Any valid index returns the count; -1 returns 0. */
	int count =
		SSL_get_shared_sigalgs(ssl, 0, NULL, NULL, NULL, NULL, NULL);
	json_t *array = json_array();

	if (!array || json_object_set_new(parameters, "sigalgs", array) < 0)
		return -1;
	for (int i = 0; i < count; i++) {
		unsigned char rsig, rhash;
		const struct cp_sigalg *alg;

		SSL_get_shared_sigalgs(ssl, i, NULL, NULL, NULL, &rsig, &rhash);
		alg = cp_sigalg_by_code((uint16_t)(rhash << 8 | rsig));
		if (alg && json_array_append_new(
				   array, json_string_nocheck(alg->name)))
			return -1;
	}
	return 0;
}

static int
add_server_certificate(json_t *parameters, SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned char *der = NULL;
	char *text;
	int len, r;

	if (!cert)
		return 0;
	len = i2d_X509(cert, &der);
	if (len <= 0)
		return -1;
	text = cp_base64_encode(der, (size_t)len);
	OPENSSL_free(der);
	if (!text)
		return -1;
	r = json_object_set_new(parameters, "server_certificate",
				json_string_nocheck(text));
	free(text);
	return r;
}

static json_t *
select_parameters(SSL *ssl, struct cp_ssl_state *state)
{
	json_t *parameters = json_pack("{s:s, s:i, s:s}", "host", state->host,
				       "port", (int)state->port, "tls_version",
				       SSL_get_version(ssl));

	if (!parameters)
		return NULL;
	if (add_ca_names(parameters, ssl) < 0 ||
	    add_sigalgs(parameters, ssl) < 0 ||
	    add_server_certificate(parameters, ssl) < 0 ||
	    (state->parent_window &&
	     json_object_set_new(parameters, "parent_window",
				 json_string(state->parent_window)) < 0)) {
		json_decref(parameters);
		return NULL;
	}
	return parameters;
}

static int
connect_agent(struct cp_ssl_state *state)
{
	char err[CP_ERROR_MAX];

	if (state->link)
		return 0;
	state->link = cp_agent_link_open(state->flags & CERTPICK_AUTOSTART,
					 state->flags & CERTPICK_BLOCKING, err,
					 sizeof(err));
	if (!state->link) {
		cp_ssl_fail(state, CERTPICK_E_AGENT, "%s", err);
		return -1;
	}
	return 0;
}

/* Sends Select. Returns 0 with the request pending, or -1 with the
 * failure recorded. */
static int
send_select(SSL *ssl, struct cp_ssl_state *state)
{
	json_t *parameters, *call = NULL;
	char *buffer = NULL;
	size_t len = 0;
	int r = -1;

	if (!state->host && guess_server(ssl, state) < 0)
		return -1;
	if (connect_agent(state) < 0)
		return -1;

	parameters = select_parameters(ssl, state);
	if (parameters)
		call = vl_call_new("org.certpick.Agent.Select", parameters, 0);
	if (!call || !(buffer = vl_message_encode(call, &len))) {
		cp_ssl_fail(state, CERTPICK_E_INTERNAL,
			    "cannot encode the request to certpickd");
		goto out;
	}
	if (cp_send_all(state->link->fd, buffer, len,
			CP_AGENT_CALL_TIMEOUT_MS) < 0) {
		state->link->broken = true;
		cp_ssl_fail(state, CERTPICK_E_AGENT,
			    "cannot send the request to certpickd: %s",
			    strerror(errno));
		goto out;
	}
	state->request = CP_REQUEST_PENDING;
	r = 0;

out:
	vl_buffer_free(buffer, len);
	json_decref(call);
	return r;
}

/* Decoded certificates, keyed by their base64 text. Decoding one costs
 * about 250 us with OpenSSL 3.0.22 (its public key goes through the
 * decoder framework), more than the rest of a request, and certpickd
 * sends the same chain for every connection to a server. Entries stay
 * until replaced, so the cache contains at most CP_CERT_CACHE_SIZE
 * certificates. */
#define CP_CERT_CACHE_SIZE 16

static struct {
	char *text;
	X509 *cert;
	unsigned long used;
} cert_cache[CP_CERT_CACHE_SIZE];
static unsigned long cert_cache_clock;
static pthread_mutex_t cert_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* Returns a new reference to the cached certificate for text, or NULL. */
static X509 *
cache_find(const char *text)
{
	X509 *cert = NULL;

	pthread_mutex_lock(&cert_cache_lock);
	for (size_t i = 0; i < CP_CERT_CACHE_SIZE && !cert; i++) {
		if (!cert_cache[i].text || strcmp(cert_cache[i].text, text))
			continue;
		if (X509_up_ref(cert_cache[i].cert)) {
			cert = cert_cache[i].cert;
			cert_cache[i].used = ++cert_cache_clock;
		}
	}
	pthread_mutex_unlock(&cert_cache_lock);
	return cert;
}

/* Adds cert, replacing the least recently used entry. */
static void
cache_add(const char *text, X509 *cert)
{
	char *copy = strdup(text);
	size_t slot = 0;

	if (!copy || !X509_up_ref(cert)) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&cert_cache_lock);
	for (size_t i = 1; i < CP_CERT_CACHE_SIZE; i++)
		if (cert_cache[i].used < cert_cache[slot].used)
			slot = i;
	free(cert_cache[slot].text);
	X509_free(cert_cache[slot].cert);
	cert_cache[slot].text = copy;
	cert_cache[slot].cert = cert;
	cert_cache[slot].used = ++cert_cache_clock;
	pthread_mutex_unlock(&cert_cache_lock);
}

static int
decode_certificate(json_t *value, X509 **out)
{
	const unsigned char *p;
	uint8_t *der = NULL;
	size_t len;

	*out = NULL;
	if (!json_is_string(value))
		return -1;
	*out = cache_find(json_string_value(value));
	if (*out)
		return 0;
	if (cp_base64_decode(json_string_value(value),
			     json_string_length(value), &der, &len) < 0)
		return -1;
	p = der;
	*out = d2i_X509(NULL, &p, (long)len);
	if (!*out || p != der + len) {
		free(der);
		return -1;
	}
	free(der);
	cache_add(json_string_value(value), *out);
	return 0;
}

/* Reads an identity from Select's reply into the state. */
static int
take_identity(struct cp_ssl_state *state, json_t *parameters)
{
	json_t *chain = json_object_get(parameters, "chain");
	const char *id = json_string_value(json_object_get(parameters, "id"));
	const char *label =
		json_string_value(json_object_get(parameters, "label"));
	char err[CP_ERROR_MAX];
	size_t i;
	json_t *item;

	if (!id || !label || !json_is_array(chain) ||
	    json_array_size(chain) == 0)
		goto invalid;
	state->id = strdup(id);
	state->label = strdup(label);
	state->chain = sk_X509_new_null();
	if (!state->id || !state->label || !state->chain)
		goto memory;

	json_array_foreach(chain, i, item)
	{
		X509 *cert;

		if (decode_certificate(item, &cert) < 0) {
			X509_free(cert);
			goto invalid;
		}
		if (i == 0) {
			state->leaf = cert;
		} else if (!sk_X509_push(state->chain, cert)) {
			X509_free(cert);
			goto memory;
		}
	}

	/* A leaf whose public key does not decode cannot be presented. */
	if (!X509_get0_pubkey(state->leaf))
		goto invalid;
	state->key = cp_remote_key_new(state->link, id,
				       X509_get0_pubkey(state->leaf), err,
				       sizeof(err));
	if (!state->key) {
		cp_ssl_fail(state, CERTPICK_E_AGENT, "identity '%.100s': %s",
			    label, err);
		return -1;
	}
	return 0;

invalid:
	cp_ssl_fail(state, CERTPICK_E_AGENT,
		    "certpickd sent an invalid identity in its reply to "
		    "Select");
	return -1;
memory:
	cp_ssl_fail(state, CERTPICK_E_INTERNAL, "out of memory");
	return -1;
}

static void
take_error(struct cp_ssl_state *state, const char *error, json_t *parameters)
{
	const char *reason =
		json_string_value(json_object_get(parameters, "reason"));
	const char *name = error;

	if (strncmp(name, CP_ERROR_PREFIX, strlen(CP_ERROR_PREFIX)) == 0)
		name += strlen(CP_ERROR_PREFIX);

	if (strcmp(name, "TimedOut") == 0)
		cp_ssl_fail(state, CERTPICK_E_AGENT,
			    "certpickd timed out waiting for a choice after "
			    "%d s",
			    (int)json_integer_value(
				    json_object_get(parameters, "seconds")));
	else
		cp_ssl_fail(state, CERTPICK_E_AGENT,
			    "certpickd failed the request: %.100s%s%.200s",
			    name, reason ? ": " : "", reason ? reason : "");
}

void
cp_ssl_take_reply(struct cp_ssl_state *state, json_t *message)
{
	char err[CP_ERROR_MAX];
	struct vl_reply reply;

	clear_choice(state);
	state->none_reason[0] = '\0';
	if (vl_message_to_reply(message, &reply) != VL_OK) {
		cp_ssl_fail(state, CERTPICK_E_AGENT,
			    "certpickd sent an invalid reply to Select");
		state->request = CP_REQUEST_FAILED;
		return;
	}
	if (cp_agent_check_reply("Select", reply.error, reply.parameters, err,
				 sizeof(err)) < 0) {
		cp_ssl_fail(state, CERTPICK_E_AGENT, "%s", err);
		state->request = CP_REQUEST_FAILED;
		return;
	}
	if (reply.error &&
	    strcmp(reply.error, CP_ERROR_PREFIX "NoCertificate") == 0) {
		const char *reason = json_string_value(
			json_object_get(reply.parameters, "reason"));

		snprintf(state->none_reason, sizeof(state->none_reason), "%s",
			 reason ? reason : "");
		state->request = CP_REQUEST_ANSWERED;
		return;
	}
	if (reply.error) {
		take_error(state, reply.error, reply.parameters);
		state->request = CP_REQUEST_FAILED;
		return;
	}
	if (take_identity(state, reply.parameters) < 0) {
		clear_choice(state);
		state->request = CP_REQUEST_FAILED;
		return;
	}
	state->request = CP_REQUEST_ANSWERED;
}

int
certpick_ssl_agent_fd(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	if (!state || state->request != CP_REQUEST_PENDING || !state->link)
		return -1;
	return state->link->fd;
}

/* Fails the pending request because of its connection to certpickd. */
static void
fail_link(struct cp_ssl_state *state, const char *what, const char *detail)
{
	cp_ssl_fail(state, CERTPICK_E_AGENT, "%s%s%s", what, detail ? ": " : "",
		    detail ? detail : "");
	state->link->broken = true;
	state->request = CP_REQUEST_FAILED;
	vl_reader_clear(&state->reader);
}

int
certpick_ssl_process(SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);
	char chunk[16384];

	if (!state || state->request != CP_REQUEST_PENDING || !state->link)
		return -1;

	for (;;) {
		json_t *message = NULL;
		int r = vl_reader_next(&state->reader, &message);
		ssize_t n;

		if (r == 1) {
			cp_ssl_take_reply(state, message);
			json_decref(message);
			vl_reader_clear(&state->reader);
			return 1;
		}
		if (r < 0) {
			fail_link(state, "invalid reply from certpickd",
				  vl_status_string(r));
			return 1;
		}

		n = recv(state->link->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			fail_link(state,
				  "certpickd closed the connection before it "
				  "answered",
				  n < 0 ? strerror(errno) : NULL);
			return 1;
		}
		r = vl_reader_feed(&state->reader, chunk, (size_t)n);
		if (r < 0) {
			fail_link(state, "invalid reply from certpickd",
				  vl_status_string(r));
			return 1;
		}
	}
}

/* Waits for the reply inside the callback (CERTPICK_BLOCKING). */
static void
wait_for_reply(SSL *ssl, struct cp_ssl_state *state)
{
	while (state->request == CP_REQUEST_PENDING) {
		struct pollfd pfd = {.fd = state->link->fd, .events = POLLIN};

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			fail_link(state, "cannot wait for certpickd",
				  strerror(errno));
			return;
		}
		certpick_ssl_process(ssl);
	}
}

static int
record_sent(struct cp_ssl_state *state, const char *id, const char *label)
{
	free(state->sent_id);
	free(state->sent_label);
	state->sent_id = id ? strdup(id) : NULL;
	state->sent_label = label ? strdup(label) : NULL;
	return !id || (state->sent_id && state->sent_label) ? 0 : -1;
}

/* Installs the choice: leaf, key and chain together, because
 * SSL_add1_chain_cert before the leaf is set attaches the chain to the
 * wrong slot. For "no certificate", clears what an earlier request (a
 * post-handshake one) installed. Returns 1, or 0 with the failure
 * recorded. */
static int
install_choice(SSL *ssl, struct cp_ssl_state *state)
{
	state->request = CP_REQUEST_IDLE;
	if (!state->leaf) {
		if (SSL_get_certificate(ssl))
			SSL_certs_clear(ssl);
		record_sent(state, NULL, NULL);
		return 1;
	}
	ERR_clear_error();
	if (!SSL_use_cert_and_key(ssl, state->leaf, state->key, state->chain,
				  1)) {
		unsigned long e = ERR_peek_last_error();

		cp_ssl_fail(state, CERTPICK_E_AGENT,
			    "cannot use certificate '%.100s': %s", state->label,
			    e ? ERR_reason_error_string(e) : "unknown error");
		clear_choice(state);
		return 0;
	}
	if (record_sent(state, state->id, state->label) < 0) {
		cp_ssl_fail(state, CERTPICK_E_INTERNAL, "out of memory");
		return 0;
	}
	return 1;
}

static void
start_request(SSL *ssl, struct cp_ssl_state *state)
{
	state->asked = true;
	state->agent_failed = false;
	state->status = CERTPICK_OK;
	state->error[0] = '\0';
	if (send_select(ssl, state) < 0)
		state->request = CP_REQUEST_FAILED;
}

/* In TLS 1.3 the CertificateRequest comes before the server's Certificate,
 * CertificateVerify and Finished, which the client checks before OpenSSL
 * calls the certificate callback. Sending Select once the server's
 * certificate is in lets certpickd work meanwhile, on another CPU. The
 * callback takes the reply later. NOTE: a person may then see the dialog
 * for a server whose CertificateVerify turns out invalid; the handshake
 * fails, and certpickd withdraws the dialog when the connection closes. */
static void
select_early(SSL *ssl, struct cp_ssl_state *state)
{
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

	if (state->sent_early || state->handshake_done ||
	    state->request != CP_REQUEST_IDLE ||
	    SSL_version(ssl) != TLS1_3_VERSION)
		return;

	/* Only where a certpick callback will take the reply: a context from
	 * certpick_setup_ctx, or the drop-in callback on an SSL without a
	 * certificate. */
	if (SSL_CTX_get_ex_data(ctx, ctx_ex_index) != ctx &&
	    (SSL_CTX_get_client_cert_cb(ctx) != certpick_client_cert_cb ||
	     SSL_get_certificate(ssl)))
		return;

	/* The callback runs before each message is read, with the state of
	 * the one before it. */
	if (SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ) {
		state->saw_request = true;
		return;
	}
	if (!state->saw_request || !SSL_get0_peer_certificate(ssl))
		return;
	state->sent_early = true;
	start_request(ssl, state);
}

/* The part both callbacks share: returns -1 while waiting, 1 when the
 * choice is ready to install, 0 when the request failed. */
static int
advance_request(SSL *ssl, struct cp_ssl_state *state)
{
	bool just_sent = false;

	if (state->request == CP_REQUEST_IDLE) {
		start_request(ssl, state);
		just_sent = true;
	}

	/* The reply to an early Select may already be in. The reply to one
	 * sent just now almost never is, and the caller waits on certpickd's
	 * socket anyway, so no recv() is tried for it. */
	if (state->request == CP_REQUEST_PENDING) {
		if (state->flags & CERTPICK_BLOCKING)
			wait_for_reply(ssl, state);
		else if (!just_sent)
			certpick_ssl_process(ssl);
	}
	switch (state->request) {
	case CP_REQUEST_PENDING:
		return -1;
	case CP_REQUEST_ANSWERED:
		return 1;
	case CP_REQUEST_FAILED:
	case CP_REQUEST_IDLE:
		break;
	}
	state->request = CP_REQUEST_IDLE;
	state->agent_failed = true;
	return 0;
}

int
certpick_cert_cb(SSL *ssl, void *arg)
{
	struct cp_ssl_state *state = cp_ssl_state_ensure(ssl);
	int r;

	if (!state)
		return 0;
	r = advance_request(ssl, state);
	if (r < 0)
		return -1;
	if (r == 0)
		return state->flags & CERTPICK_CONTINUE_WITHOUT_AGENT ? 1 : 0;
	return install_choice(ssl, state);
}

int
certpick_client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	struct cp_ssl_state *state = cp_ssl_state_ensure(ssl);
	X509 *leaf;
	EVP_PKEY *key;
	int r;

	if (!state)
		return 0;
	r = advance_request(ssl, state);
	if (r <= 0)
		return r;

	/* This callback can return no chain, so the chain goes in here. */
	leaf = state->leaf;
	key = state->key;
	if (!leaf) {
		install_choice(ssl, state);
		return 0;
	}
	X509_up_ref(leaf);
	EVP_PKEY_up_ref(key);
	if (!install_choice(ssl, state)) {
		X509_free(leaf);
		EVP_PKEY_free(key);
		return 0;
	}
	*x509 = leaf;
	*pkey = key;
	return 1;
}

/* TLS alerts by which a server rejects the client certificate it
 * received (RFC 8446 section 6.2). */
static bool
is_certificate_alert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return true;
	}
	return false;
}

static void
report_rejected(struct cp_ssl_state *state)
{
	struct cp_agent_reply reply;
	char err[CP_ERROR_MAX];
	json_t *parameters;

	if (!state->link || state->rejection_reported)
		return;
	state->rejection_reported = true;
	parameters = json_pack("{s:s, s:s, s:i, s:i}", "id", state->sent_id,
			       "host", state->host, "port", (int)state->port,
			       "alert", state->alert_received);
	/* A failure here loses only the hint to certpickd; the connection
	 * has failed either way. */
	if (parameters &&
	    cp_agent_call(state->link->fd, "org.certpick.Agent.ReportRejected",
			  parameters, CP_AGENT_CALL_TIMEOUT_MS, &reply, err,
			  sizeof(err)) == 0)
		cp_agent_reply_clear(&reply);
	else
		state->link->broken = true;
	json_decref(parameters);
}

/* OpenSSL 3.0 has no description for certificate_required. */
static const char *
alert_description(int alert)
{
	if (alert == SSL_AD_CERTIFICATE_REQUIRED)
		return "certificate required";
	return SSL_alert_desc_string_long(alert);
}

/* Explains certpickd's reason for presenting no certificate, for the end
 * of a rejection message. */
static const char *
none_explanation(const char *reason)
{
	if (strcmp(reason, "declined") == 0)
		return "; the person chose to send none, now or in a remembered "
		       "decision";
	if (strcmp(reason, "none-eligible") == 0)
		return "; no identity in certpickd's store fits this server's "
		       "request ('certpick match' with the server's CA names "
		       "gives the reasons)";
	return "";
}

bool
certpick_ssl_check_rejection(SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);
	int alert;

	if (!state || !state->alert_received)
		return false;
	alert = state->alert_received;

	if (state->sent_id && is_certificate_alert(alert)) {
		report_rejected(state);
		cp_ssl_fail(state, CERTPICK_E_REJECTED,
			    "server rejected certificate '%.100s' (alert %d: "
			    "%s)",
			    state->sent_label, alert, alert_description(alert));
		return true;
	}
	/* A certificate that the application set itself, not certpick. */
	if (!state->asked && SSL_get_certificate(ssl) &&
	    is_certificate_alert(alert)) {
		cp_ssl_fail(state, CERTPICK_E_REJECTED,
			    "server rejected the client certificate (alert %d: "
			    "%s)",
			    alert, alert_description(alert));
		return true;
	}
	/* TLS 1.2 servers send handshake_failure for a missing
	 * certificate, TLS 1.3 ones certificate_required. */
	if (state->asked && !state->sent_id &&
	    (alert == SSL_AD_HANDSHAKE_FAILURE ||
	     is_certificate_alert(alert))) {
		cp_ssl_fail(state, CERTPICK_E_REJECTED,
			    "server requires a client certificate, and none "
			    "was sent (alert %d: %s)%s",
			    alert, alert_description(alert),
			    none_explanation(state->none_reason));
		return true;
	}
	return false;
}

const char *
certpick_ssl_error(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	return state && state->error[0] ? state->error : NULL;
}

int
certpick_ssl_status(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	return state ? state->status : CERTPICK_OK;
}

const char *
certpick_ssl_none_reason(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	return state && state->none_reason[0] ? state->none_reason : NULL;
}

const char *
certpick_ssl_sent_label(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	return state ? state->sent_label : NULL;
}

const char *
certpick_ssl_sent_id(const SSL *ssl)
{
	struct cp_ssl_state *state = cp_ssl_state_get(ssl);

	return state ? state->sent_id : NULL;
}

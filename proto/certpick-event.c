/* The libevent handshake driver. libevent 2.1's bufferevent_openssl
 * treats SSL_ERROR_WANT_X509_LOOKUP as fatal and then leaves the
 * connection idle (conn_closed in bufferevent_openssl.c, 2.1.12). So this
 * driver runs SSL_connect itself, with one event on the socket and one on
 * certpickd's connection, and hands the open SSL to a bufferevent. After
 * that, it takes over the bufferevent's callbacks to handle post-handshake
 * certificate requests. */
#include "certpick-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

struct certpick_connect {
	struct event_base *base;
	SSL *ssl;
	evutil_socket_t fd;
	struct event *read_event;
	struct event *write_event;
	struct event *agent_event;
	struct event *timer;
	bool tcp_connected;

	/* The timeout covers the network part of the handshake only, so
	 * the clock stops while the person chooses. */
	long timeout_ms;
	long spent_ms;
	long resumed_at;

	certpick_connect_cb cb;
	void *arg;
};

static long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
connect_free(struct certpick_connect *connect)
{
	if (connect->read_event)
		event_free(connect->read_event);
	if (connect->write_event)
		event_free(connect->write_event);
	if (connect->agent_event)
		event_free(connect->agent_event);
	if (connect->timer)
		event_free(connect->timer);
	free(connect);
}

void
certpick_connect_cancel(struct certpick_connect *connect)
{
	SSL *ssl;
	evutil_socket_t fd;

	if (!connect)
		return;
	/* The events go before the sockets they watch are closed. */
	ssl = connect->ssl;
	fd = connect->fd;
	connect_free(connect);
	SSL_free(ssl);
	if (fd >= 0)
		evutil_closesocket(fd);
}

static void finish_failed(struct certpick_connect *connect, int status,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
finish_failed(struct certpick_connect *connect, int status, const char *fmt,
	      ...)
{
	certpick_connect_cb cb = connect->cb;
	void *arg = connect->arg;
	char message[CP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	certpick_connect_cancel(connect);
	cb(NULL, status, message, arg);
}

/* Describes a failed handshake: the server's rejection of the client
 * certificate, a failure in certpickd, server certificate verification,
 * the network, or another TLS error, in that order. */
static void
fail_handshake(struct certpick_connect *connect, int ssl_error)
{
	struct cp_ssl_state *state = cp_ssl_state_get(connect->ssl);
	unsigned long e = ERR_peek_error();
	long verify = SSL_get_verify_result(connect->ssl);
	int saved_errno = errno;

	if (certpick_ssl_check_rejection(connect->ssl)) {
		finish_failed(connect, CERTPICK_E_REJECTED, "%s", state->error);
	} else if (state->status != CERTPICK_OK) {
		finish_failed(connect, state->status, "%s", state->error);
	} else if (state->link && state->link->error[0]) {
		finish_failed(connect, CERTPICK_E_AGENT, "%s",
			      state->link->error);
	} else if (verify != X509_V_OK) {
		finish_failed(connect, CERTPICK_E_TLS,
			      "cannot verify the certificate of %.200s: %s",
			      state->host,
			      X509_verify_cert_error_string(verify));
	} else if (ssl_error == SSL_ERROR_SYSCALL && e == 0) {
		finish_failed(connect, CERTPICK_E_NETWORK,
			      "%.200s:%u closed the connection during the TLS "
			      "handshake%s%s",
			      state->host, state->port, saved_errno ? ": " : "",
			      saved_errno ? strerror(saved_errno) : "");
	} else {
		finish_failed(connect, CERTPICK_E_TLS,
			      "TLS handshake with %.200s:%u failed: %s",
			      state->host, state->port,
			      e ? ERR_reason_error_string(e) : "unknown error");
	}
}

static void
pause_clock(struct certpick_connect *connect)
{
	connect->spent_ms += monotonic_ms() - connect->resumed_at;
	event_del(connect->timer);
}

static void
resume_clock(struct certpick_connect *connect)
{
	long left = connect->timeout_ms - connect->spent_ms;
	struct timeval tv;

	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	connect->resumed_at = monotonic_ms();
	event_add(connect->timer, &tv);
}

static void finish_open(struct certpick_connect *connect);
static void on_agent(evutil_socket_t fd, short what, void *arg);

static void
wait_for_agent(struct certpick_connect *connect)
{
	int fd = certpick_ssl_agent_fd(connect->ssl);

	if (fd < 0) {
		fail_handshake(connect, SSL_ERROR_WANT_X509_LOOKUP);
		return;
	}
	if (!connect->agent_event || event_get_fd(connect->agent_event) != fd) {
		if (connect->agent_event)
			event_free(connect->agent_event);
		connect->agent_event = NULL;
	}
	if (!connect->agent_event) {
		connect->agent_event = event_new(connect->base, fd, EV_READ,
						 on_agent, connect);
		if (!connect->agent_event) {
			finish_failed(connect, CERTPICK_E_INTERNAL,
				      "out of memory");
			return;
		}
	}
	pause_clock(connect);
	event_add(connect->agent_event, NULL);
}

/* Runs SSL_connect until it must wait. */
static void
step(struct certpick_connect *connect)
{
	int r, error;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(connect->ssl);
	if (r == 1) {
		finish_open(connect);
		return;
	}
	error = SSL_get_error(connect->ssl, r);
	switch (error) {
	case SSL_ERROR_WANT_READ:
		event_add(connect->read_event, NULL);
		return;
	case SSL_ERROR_WANT_WRITE:
		event_add(connect->write_event, NULL);
		return;
	case SSL_ERROR_WANT_X509_LOOKUP:
		wait_for_agent(connect);
		return;
	}
	fail_handshake(connect, error);
}

static void
on_agent(evutil_socket_t fd, short what, void *arg)
{
	struct certpick_connect *connect = arg;

	if (certpick_ssl_process(connect->ssl) == 0) {
		event_add(connect->agent_event, NULL);
		return;
	}
	resume_clock(connect);
	step(connect);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct certpick_connect *connect = arg;
	struct cp_ssl_state *state = cp_ssl_state_get(connect->ssl);

	if (!connect->tcp_connected) {
		int error = 0;
		socklen_t len = sizeof(error);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
			error = errno;
		if (error) {
			finish_failed(connect, CERTPICK_E_NETWORK,
				      "cannot connect to %.200s:%u: %s",
				      state->host, state->port,
				      strerror(error));
			return;
		}
		connect->tcp_connected = true;
	}
	step(connect);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct certpick_connect *connect = arg;
	struct cp_ssl_state *state = cp_ssl_state_get(connect->ssl);

	finish_failed(connect, CERTPICK_E_TIMEOUT,
		      "TLS handshake with %.200s:%u timed out after %ld ms",
		      state->host, state->port, connect->timeout_ms);
}

struct certpick_connect *
certpick_connect(struct event_base *base, SSL_CTX *ctx, evutil_socket_t fd,
		 const struct certpick_options *options, certpick_connect_cb cb,
		 void *arg)
{
	struct certpick_connect *connect;
	BIO *bio;

	connect = calloc(1, sizeof(*connect));
	if (!connect) {
		evutil_closesocket(fd);
		return NULL;
	}
	connect->base = base;
	connect->fd = fd;
	connect->cb = cb;
	connect->arg = arg;
	connect->timeout_ms = options && options->timeout_ms > 0
				      ? options->timeout_ms
				      : CERTPICK_DEFAULT_TIMEOUT_MS;

	/* A new SSL for every connection: a certificate chosen for one
	 * connection stays installed on its SSL across SSL_clear, and the
	 * next connection would present it again without asking. Programs
	 * that reuse an SSL are covered by reset_for_new_connection in
	 * certpick-ssl.c, but a new SSL also carries nothing else over, such
	 * as a session. */
	connect->ssl = SSL_new(ctx);
	bio = BIO_new_socket(fd, BIO_NOCLOSE);
	if (!connect->ssl || !bio || evutil_make_socket_nonblocking(fd) < 0 ||
	    certpick_ssl_setup(connect->ssl, options) < 0) {
		BIO_free(bio);
		certpick_connect_cancel(connect);
		return NULL;
	}
	SSL_set_bio(connect->ssl, bio, bio);
	SSL_set_connect_state(connect->ssl);

	connect->read_event = event_new(base, fd, EV_READ, on_socket, connect);
	connect->write_event =
		event_new(base, fd, EV_WRITE, on_socket, connect);
	connect->timer = evtimer_new(base, on_timeout, connect);
	if (!connect->read_event || !connect->write_event || !connect->timer) {
		certpick_connect_cancel(connect);
		return NULL;
	}

	/* Writable means that a connect() in progress has finished. */
	resume_clock(connect);
	event_add(connect->write_event, NULL);
	return connect;
}

/* The bufferevent side: post-handshake authentication and rejections. */

struct cp_bev_hook {
	struct bufferevent *bev;
	SSL *ssl;
	struct event *agent_event;
	struct event *write_event;
	bufferevent_data_cb readcb;
	bufferevent_data_cb writecb;
	bufferevent_event_cb eventcb;
	void *arg;
};

void
cp_bev_hook_free(struct cp_bev_hook *hook)
{
	if (!hook)
		return;
	if (hook->agent_event)
		event_free(hook->agent_event);
	if (hook->write_event)
		event_free(hook->write_event);
	free(hook);
}

static void
hook_read(struct bufferevent *bev, void *arg)
{
	struct cp_bev_hook *hook = arg;

	if (hook->readcb)
		hook->readcb(bev, hook->arg);
}

static void
hook_write(struct bufferevent *bev, void *arg)
{
	struct cp_bev_hook *hook = arg;

	if (hook->writecb)
		hook->writecb(bev, hook->arg);
}

static void
deliver_event(struct cp_bev_hook *hook, short what)
{
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		certpick_ssl_check_rejection(hook->ssl);
	if (hook->eventcb)
		hook->eventcb(hook->bev, what, hook->arg);
}

/* Drops the error code that conn_closed recorded for the suspended
 * SSL_read, so the application never receives it. */
static void
drain_errors(struct bufferevent *bev)
{
	while (bufferevent_get_openssl_error(bev))
		;
}

static void hook_wait(struct cp_bev_hook *hook, struct event *event);

/* Runs the suspended post-handshake exchange to its end with SSL_read,
 * because the server's CertificateRequest is already consumed and no
 * socket event will run it again. Application data read on the way goes
 * into the bufferevent's input. */
static void
hook_resume(struct cp_bev_hook *hook)
{
	struct bufferevent *bev = hook->bev;
	struct evbuffer *input = bufferevent_get_input(bev);
	bool got_data = false;
	char buffer[16384];

	for (;;) {
		int n, error;

		ERR_clear_error();
		n = SSL_read(hook->ssl, buffer, sizeof(buffer));
		if (n > 0) {
			if (evbuffer_add(input, buffer, (size_t)n) < 0)
				break;
			got_data = true;
			continue;
		}
		error = SSL_get_error(hook->ssl, n);
		if (error == SSL_ERROR_WANT_READ)
			break;
		if (error == SSL_ERROR_WANT_WRITE) {
			hook_wait(hook, hook->write_event);
			return;
		}
		if (error == SSL_ERROR_WANT_X509_LOOKUP) {
			hook_wait(hook, hook->agent_event);
			return;
		}
		drain_errors(bev);
		deliver_event(hook, BEV_EVENT_READING |
					    (error == SSL_ERROR_ZERO_RETURN
						     ? BEV_EVENT_EOF
						     : BEV_EVENT_ERROR));
		return;
	}

	drain_errors(bev);
	bufferevent_enable(bev, bufferevent_get_enabled(bev));
	/* Last, because the read callback may free the bufferevent. */
	if (got_data)
		bufferevent_trigger(bev, EV_READ, 0);
}

static void
on_hook_event(evutil_socket_t fd, short what, void *arg)
{
	struct cp_bev_hook *hook = arg;

	if (fd == certpick_ssl_agent_fd(hook->ssl)) {
		if (certpick_ssl_process(hook->ssl) == 0) {
			event_add(hook->agent_event, NULL);
			return;
		}
	}
	hook_resume(hook);
}

/* Waits for certpickd's reply (event is agent_event) or for the socket to
 * be writable (write_event). */
static void
hook_wait(struct cp_bev_hook *hook, struct event *event)
{
	struct event_base *base = bufferevent_get_base(hook->bev);

	if (event == hook->agent_event) {
		int fd = certpick_ssl_agent_fd(hook->ssl);

		if (fd < 0) {
			deliver_event(hook,
				      BEV_EVENT_READING | BEV_EVENT_ERROR);
			return;
		}
		if (!hook->agent_event)
			hook->agent_event = event_new(base, fd, EV_READ,
						      on_hook_event, hook);
		event = hook->agent_event;
	} else {
		if (!hook->write_event)
			hook->write_event =
				event_new(base, bufferevent_getfd(hook->bev),
					  EV_WRITE, on_hook_event, hook);
		event = hook->write_event;
	}
	if (!event) {
		deliver_event(hook, BEV_EVENT_READING | BEV_EVENT_ERROR);
		return;
	}
	if (!event_pending(event, EV_READ | EV_WRITE, NULL))
		event_add(event, NULL);
}

static void
hook_event(struct bufferevent *bev, short what, void *arg)
{
	struct cp_bev_hook *hook = arg;

	/* A post-handshake CertificateRequest suspended SSL_read: libevent
	 * reports it as an error (SSL_ERROR_WANT_X509_LOOKUP) and stops
	 * both events. */
	if ((what & BEV_EVENT_ERROR) && certpick_ssl_agent_fd(hook->ssl) >= 0) {
		drain_errors(bev);
		hook_wait(hook, hook->agent_event);
		return;
	}
	deliver_event(hook, what);
}

static struct cp_bev_hook *
hook_attach(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	struct cp_ssl_state *state;

	if (!ssl)
		return NULL;
	state = cp_ssl_state_ensure(ssl);
	if (!state)
		return NULL;
	if (!state->hook) {
		state->hook = calloc(1, sizeof(*state->hook));
		if (!state->hook)
			return NULL;
	}
	state->hook->bev = bev;
	state->hook->ssl = ssl;
	return state->hook;
}

int
certpick_bufferevent_setcb(struct bufferevent *bev, bufferevent_data_cb readcb,
			   bufferevent_data_cb writecb,
			   bufferevent_event_cb eventcb, void *arg)
{
	struct cp_bev_hook *hook = hook_attach(bev);

	if (!hook)
		return -1;
	hook->readcb = readcb;
	hook->writecb = writecb;
	hook->eventcb = eventcb;
	hook->arg = arg;
	bufferevent_setcb(bev, hook_read, hook_write, hook_event, hook);
	return 0;
}

const char *
certpick_bufferevent_error(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	return ssl ? certpick_ssl_error(ssl) : NULL;
}

static void
finish_open(struct certpick_connect *connect)
{
	struct cp_ssl_state *state = cp_ssl_state_get(connect->ssl);
	certpick_connect_cb cb = connect->cb;
	void *arg = connect->arg;
	struct bufferevent *bev;

	/* The drop-in client_cert_cb cannot fail the handshake itself, so a
	 * failure in certpickd fails the connection here. */
	if (state->agent_failed &&
	    !(state->flags & CERTPICK_CONTINUE_WITHOUT_AGENT)) {
		finish_failed(connect, CERTPICK_E_AGENT, "%s", state->error);
		return;
	}

	bev = bufferevent_openssl_socket_new(connect->base, connect->fd,
					     connect->ssl, BUFFEREVENT_SSL_OPEN,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		finish_failed(connect, CERTPICK_E_INTERNAL,
			      "cannot create the bufferevent for the "
			      "connection");
		return;
	}
	/* The bufferevent owns the SSL and the socket from here. */
	connect->ssl = NULL;
	connect->fd = -1;
	if (certpick_bufferevent_setcb(bev, NULL, NULL, NULL, NULL) < 0) {
		bufferevent_free(bev);
		connect_free(connect);
		cb(NULL, CERTPICK_E_INTERNAL, "out of memory", arg);
		return;
	}
	connect_free(connect);
	cb(bev, CERTPICK_OK, NULL, arg);
}

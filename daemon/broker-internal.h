/* State shared by the broker's modules: broker.c (connections, grants and
 * Select), broker-request.c (reading requests), broker-dialogs.c (the
 * dialog queue and the picker) and broker-methods.c (the other methods). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "broker.h"
#include "matcher.h"

struct request;
struct dialog;

/* The state of one client connection. */
struct client {
	struct cp_broker *broker;
	struct cp_conn *conn;
	char **granted; /* identity ids this connection may sign with */
	size_t n_granted;
	struct request *select; /* the Select in flight, or NULL */
	LIST_ENTRY(client) link;
};

/* A WatchDecisions subscription. */
struct watcher {
	struct client *client;
	struct cp_call *call;
	LIST_ENTRY(watcher) link;
};

TAILQ_HEAD(dialog_list, dialog);

/* The server as the dialog shows it, from the certificate the client
 * sent. */
struct server_names {
	char *organization, *common_name;
};

/* Server certificates whose names were read. A client sends the same
 * certificate on every connection to a server, and decoding it (d2i_X509)
 * took about 160 us with OpenSSL 3.0.22, more than the rest of a Select
 * settled by a decision. */
#define BROKER_SERVER_CERTS_MAX 16

struct server_cert_entry {
	unsigned char digest[SHA256_DIGEST_LENGTH]; /* of the base64 text */
	struct server_names names;
};

struct cp_broker {
	struct event_base *base;
	struct cp_store *store;
	struct cp_decisions *decisions;
	struct cp_policy *policy;
	struct cp_picker *picker;
	int timeout_seconds;
	unsigned queued; /* requests in dialogs, waiting */
	unsigned long dialogs_shown;
	struct dialog_list dialogs; /* FIFO; the head may be showing */
	struct dialog *showing;
	bool stopping;
	LIST_HEAD(, client) clients;
	LIST_HEAD(, watcher) watchers;
	/* Valid server certificates read, most recently used first. */
	struct server_cert_entry server_certs[BROKER_SERVER_CERTS_MAX];
	size_t n_server_certs;
};

/* The server's certificate request, as a Select or Match describes it. */
struct server_request {
	char *host;	 /* lowercase, without brackets or a trailing dot */
	int port;	 /* 0 in a Match without a port */
	uint8_t *ca_der; /* the server's CA names, DER, one after another */
	size_t ca_der_len;
	size_t n_ca_names; /* 0 when the server named none */
	/* The CA names as parsed while they were checked, so that the first
	 * match need not parse them again; NULL when there are none, and
	 * dropped before the request waits, to keep its memory small. */
	STACK_OF(X509_NAME) *ca_names;
	char **sigalgs; /* NULL: any */
	size_t n_sigalgs;
	bool tls13;
};

/* Reads host, port, ca_names, sigalgs and tls_version. Returns NULL, or
 * the name of the invalid parameter. */
const char *server_request_parse(struct server_request *request,
				 json_t *parameters, bool host_required);
void server_request_clear(struct server_request *request);

/* Frees the parsed CA names, keeping their DER. */
void server_request_drop_parsed(struct server_request *request);

/* Parses the request's CA names into *out, NULL when there are none.
 * Returns 0, or -1 when out of memory. */
int server_request_ca_names(const struct server_request *request,
			    STACK_OF(X509_NAME) **out);

/* Reloads the store when its files changed, logging a failure. */
void broker_refresh_store(struct cp_broker *broker);

/* Refreshes the store and runs the matcher. Returns the verdict count, or
 * -1 when out of memory. */
ssize_t broker_match(struct cp_broker *broker,
		     const struct server_request *request,
		     struct cp_verdict **verdicts);

/* Runs the matcher on the store as it is, without refreshing it. */
ssize_t broker_match_loaded(struct cp_broker *broker,
			    const struct server_request *request,
			    struct cp_verdict **verdicts);

/* Returns true when the matcher finds this identity of the loaded store
 * eligible for the request, judging no other identity. False also when
 * out of memory. */
bool broker_identity_eligible(struct cp_broker *broker,
			      const struct server_request *request,
			      const struct cp_identity *identity);

/* Normalizes a host name in place with cp_host_normalize (text.h);
 * returns false when it is not valid. */
bool broker_normalize_host(char *host);

/* Reads the server certificate's names for the dialog. Returns 0, or -1
 * when value is not a base64 DER certificate. */
int broker_parse_server_certificate(json_t *value, struct server_names *names);

/* Reads the names as broker_parse_server_certificate does, and remembers
 * them for the last BROKER_SERVER_CERTS_MAX valid certificates. */
int broker_read_server_certificate(struct cp_broker *broker, json_t *value,
				   struct server_names *names);

/* Forgets the remembered server certificates. */
void broker_forget_server_certificates(struct cp_broker *broker);

/* Returns the key that identical requests share (a new string), or NULL
 * when out of memory. */
char *broker_dialog_key(const struct server_request *server);

/* Replies to a Select with an identity, which the client may then sign
 * with, or with NoCertificate. */
void broker_answer_identity(struct client *client, struct cp_call *call,
			    struct cp_identity *identity,
			    const char *decided_by);
void broker_answer_no_certificate(struct cp_call *call, const char *reason);

/* Returns the verdict on the identity with this id, or NULL. */
const struct cp_verdict *broker_find_verdict(const struct cp_verdict *verdicts,
					     ssize_t n, const char *id);

/* Queues the Select for the person, in the dialog of its key. Takes server
 * and names. */
void broker_ask_person(struct client *client, struct cp_call *call,
		       struct server_request *server,
		       struct server_names *names, const char *window,
		       const char *preselected);

/* Fails every dialog, shown or queued, with Cancelled and reason. */
void broker_cancel_dialogs(struct cp_broker *broker, const char *reason);

/* Tells every WatchDecisions subscriber that a decision was forgotten. */
void broker_announce_forgotten(const struct cp_decision *decision, void *arg);

/* Remembers that the client may sign with id. Returns -1 when out of
 * memory. */
int client_grant(struct client *client, const char *id);
bool client_granted(const struct client *client, const char *id);

/* Ends the client's pending Select and subscriptions as it disconnects. */
void broker_client_gone(struct client *client);
void broker_drop_watchers(struct cp_broker *broker, struct client *client);

/* The method handlers of broker-methods.c. */
void method_sign(struct cp_call *call, json_t *parameters, void *data);
void method_report_rejected(struct cp_call *call, json_t *parameters,
			    void *data);
void method_list_identities(struct cp_call *call, json_t *parameters,
			    void *data);
void method_match(struct cp_call *call, json_t *parameters, void *data);
void method_list_decisions(struct cp_call *call, json_t *parameters,
			   void *data);
void method_forget_decisions(struct cp_call *call, json_t *parameters,
			     void *data);
void method_watch_decisions(struct cp_call *call, json_t *parameters,
			    void *data);
void method_select(struct cp_call *call, json_t *parameters, void *data);

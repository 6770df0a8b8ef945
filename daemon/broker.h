/* The broker: org.certpick.Agent's methods. Select settles a request with
 * a remembered decision, the auto-select policy, or the person through the
 * picker, one dialog at a time; Sign signs only for the connection that
 * received the identity. */
#pragma once

#include <stddef.h>

#include <event2/event.h>

#include "decisions.h"
#include "picker.h"
#include "policy.h"
#include "server.h"
#include "store.h"

struct cp_broker;

struct cp_broker_config {
	struct event_base *base;
	struct cp_store *store;
	struct cp_decisions *decisions;
	struct cp_policy *policy; /* may be empty */
	struct cp_picker *picker;
	int timeout_seconds; /* how long a Select waits for the person */
};

/* Creates the broker; the objects in config must outlive it. */
struct cp_broker *cp_broker_new(const struct cp_broker_config *config);

/* Fails every pending request with Cancelled and ends every subscription,
 * as certpickd does before it exits. */
void cp_broker_shutdown(struct cp_broker *broker);

/* Frees the broker; call after the server that used it is freed. */
void cp_broker_free(struct cp_broker *broker);

/* The methods, and the connection hooks, for struct cp_server_config;
 * pass the broker as the hooks' arg. */
extern const struct cp_method cp_broker_methods[];
extern const size_t cp_broker_method_count;
void *cp_broker_conn_open(struct cp_conn *conn, void *broker);
void cp_broker_conn_close(struct cp_conn *conn, void *conn_data, void *broker);

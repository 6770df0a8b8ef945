/* The picker process: started on demand with one end of a socketpair as
 * descriptor 3, called over org.certpick.Picker, kept for the next dialog
 * while idle, and closed after CP_PICKER_IDLE_SECONDS. */
#pragma once

#include <stdbool.h>

#include <event2/event.h>
#include <jansson.h>

#include "varlink-idl.h"

struct cp_picker;
struct cp_picker_call;

/* The outcome of a call to the picker. When failure is set, the picker
 * could not be started, exited, or broke the protocol, and error and
 * parameters are NULL; every other call in flight fails the same way.
 * Otherwise error is NULL for a reply, or names the Varlink error. */
struct cp_picker_result {
	const char *failure;
	const char *error;
	json_t *parameters; /* borrowed; checked against the interface */
};

typedef void (*cp_picker_done_fn)(const struct cp_picker_result *result,
				  void *arg);

/* Creates the picker handle; the process starts with the first call.
 * program and interface must outlive the handle. */
struct cp_picker *cp_picker_new(struct event_base *base, const char *program,
				const struct vl_interface *interface);

/* Closes the picker's socket, which makes it exit, sends SIGTERM to every
 * picker process that has not exited yet, and frees the handle. Calls
 * still in flight get no result. */
void cp_picker_free(struct cp_picker *picker);

/* Calls method on the picker, starting it first when it is not running,
 * and steals parameters. done runs once, from the event loop, never before
 * this function returns. Returns a handle for cp_picker_call_forget, or
 * NULL when out of memory (done does not run then). */
struct cp_picker_call *cp_picker_call(struct cp_picker *picker,
				      const char *method, json_t *parameters,
				      cp_picker_done_fn done, void *arg);

/* Drops interest in a call's result: done will not run. */
void cp_picker_call_forget(struct cp_picker_call *call);

/* Tells the picker handle that no dialog is open, which starts the idle
 * timer; the next call stops it. */
void cp_picker_set_idle(struct cp_picker *picker);

/* Returns true while a picker process is running. */
bool cp_picker_running(const struct cp_picker *picker);

/* The picker's window: shows one Choose request at a time and replies to
 * it when the person acts. The window is made once and reused, so that a
 * running picker shows the next request quickly. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "picker-request.h"
#include "picker-server.h"

struct picker_dialog;

/* Builds the hidden window. With trace_paint set, the picker logs a
 * message with the monotonic time (CLOCK_MONOTONIC, microseconds) of each
 * paint of the window, for benchmarks and tests. */
struct picker_dialog *picker_dialog_new(struct picker_server *server,
					bool trace_paint);

/* Fails a pending Choose with Withdrawn and destroys the window. */
void picker_dialog_free(struct picker_dialog *dialog);

/* Shows request, or updates the window when it is for the dialog already
 * shown, and replies to call once the person acts. Takes ownership of both.
 * A Choose that was still pending fails with Withdrawn. */
void picker_dialog_choose(struct picker_dialog *dialog,
			  struct picker_call *call,
			  struct picker_request *request);

/* Hides the window when number is the dialog shown; a pending Choose for
 * it fails with Withdrawn first. */
void picker_dialog_close(struct picker_dialog *dialog, int64_t number,
			 const char *reason);

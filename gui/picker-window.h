/* The widgets of the picker's window, and how a request fills them. The
 * flow of a request (replies, countdown, parent window) is in
 * picker-dialog.c, which also connects the signals. */
#pragma once

#include <stdbool.h>

#include <gtk/gtk.h>

#include "picker-request.h"

struct picker_window {
	GtkWidget *window;
	GtkWidget *header;
	GtkWidget *send_button;
	GtkWidget *none_button;
	GtkWidget *spinner;
	GtkWidget *content;

	/* Who asks. */
	GtkWidget *heading;
	GtkWidget *application;
	GtkWidget *server_address;
	GtkWidget *organization_key;
	GtkWidget *organization;
	GtkWidget *notice;
	GtkWidget *notice_label;

	/* The eligible identities, or the notice that there are none. */
	GtkWidget *list;
	GtkWidget *list_frame;
	GtkWidget *empty;
	GtkWidget *empty_detail;
	GtkWidget *omitted_note; /* eligible identities left out */

	GtkWidget *passphrase_box;
	GtkWidget *passphrase_entry;
	GtkWidget *passphrase_hint;
	GtkWidget *passphrase_error;

	GtkWidget *details_expander;
	GtkWidget *excluded_expander;
	GtkWidget *excluded_frame;
	GtkWidget *excluded_list;
	GtkWidget *excluded_note;

	GtkWidget *remember_label;
	GtkWidget *remember_combo;
	GtkWidget *remember_note;
	GtkWidget *countdown;
};

/* Builds the hidden window. */
void picker_window_build(struct picker_window *w);

/* Fills the window from request, which must outlive the rows (until
 * picker_window_clear), and selects the identity to offer first: the one
 * that a retry is about, else the preselected one, else the best. With
 * same_dialog set, the expanders and the scope stay as the person left
 * them. */
void picker_window_fill(struct picker_window *w,
			const struct picker_request *request, bool same_dialog);

/* Destroys the rows and the details, which point into the request. */
void picker_window_clear(struct picker_window *w);

/* The candidate of the selected row, or NULL. */
const struct picker_candidate *picker_window_selected(struct picker_window *w);

/* Shows the details of the selected candidate and, when its key is locked,
 * the passphrase entry with the error of a retry about it. */
void picker_window_show_selected(struct picker_window *w,
				 const struct picker_request *request);

/* The scope chosen for "remember": "once", "session" or "always". */
const char *picker_window_scope(struct picker_window *w);

/* Shows the note on "always" when that scope is chosen. */
void picker_window_show_scope_note(struct picker_window *w);

/* The passphrase typed, in the wiping buffer of the entry. */
const char *picker_window_passphrase(struct picker_window *w);

void picker_window_wipe_passphrase(struct picker_window *w);

/* Puts the keyboard focus where the person acts next. */
void picker_window_focus_first(struct picker_window *w);

/* Shows text in the countdown label, as a warning when warn is set. */
void picker_window_set_countdown(struct picker_window *w, const char *text,
				 bool warn);

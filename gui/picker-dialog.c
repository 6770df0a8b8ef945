/* The flow of one request in the picker's window; see picker-dialog.h. */
#include "picker-dialog.h"

#include <string.h>

#include <gtk/gtk.h>
#ifdef GDK_WINDOWING_X11
#include <gdk/gdkx.h>
#endif
#ifdef GDK_WINDOWING_WAYLAND
#include <gdk/gdkwayland.h>
#endif

#include "picker-rows.h"
#include "picker-text.h"
#include "picker-window.h"

#define ERROR_DISMISSED "org.certpick.Picker.Dismissed"
#define ERROR_WITHDRAWN "org.certpick.Picker.Withdrawn"

/* Seconds the window waits, once the countdown has ended, for certpickd
 * to close it before giving up on the request as if the person had closed
 * the window. certpickd gives up at the same moment as the countdown, so
 * its Close normally comes first. */
#define TIMEOUT_GRACE_SECONDS 5

/* From this many seconds left, the countdown shows as a warning. */
#define COUNTDOWN_WARNING_SECONDS 10

enum state {
	STATE_HIDDEN,
	STATE_ASKING,  /* a Choose waits for the person */
	STATE_BUSY,    /* replied, and certpickd has not closed it yet */
	STATE_EXPIRED, /* the countdown has ended */
};

struct picker_dialog {
	struct picker_server *server;
	struct picker_request *request;
	struct picker_call *call; /* the pending Choose, or NULL */
	enum state state;
	unsigned paints;

	gint64 deadline; /* monotonic microseconds */
	guint countdown_source;
	guint grace_source;
	GdkWindow *parent; /* the foreign parent window, or NULL */

	struct picker_window w;
};

static json_t *
dialog_parameters(struct picker_dialog *d)
{
	return json_pack("{sI}", "dialog", (json_int_t)d->request->dialog);
}

/* Sets which actions are possible and which button Enter presses. */
static void
update_actions(struct picker_dialog *d)
{
	struct picker_window *w = &d->w;
	const struct picker_candidate *chosen = picker_window_selected(w);
	bool asking = d->state == STATE_ASKING;
	bool eligible = d->request && d->request->n_eligible > 0;
	bool can_send = asking && chosen &&
			(!chosen->locked || *picker_window_passphrase(w));
	GtkStyleContext *none_style =
		gtk_widget_get_style_context(w->none_button);

	gtk_widget_set_sensitive(w->send_button, can_send);
	gtk_widget_set_sensitive(w->none_button, asking);
	if (eligible) {
		gtk_style_context_remove_class(none_style, "suggested-action");
		gtk_widget_grab_default(w->send_button);
	} else {
		gtk_style_context_add_class(none_style, "suggested-action");
		gtk_widget_grab_default(w->none_button);
	}
}

/* Stops the countdown and the grace period after it. */
static void
stop_timers(struct picker_dialog *d)
{
	g_clear_handle_id(&d->countdown_source, g_source_remove);
	g_clear_handle_id(&d->grace_source, g_source_remove);
}

static void
withdraw_pending(struct picker_dialog *d, const char *why)
{
	struct picker_call *call = g_steal_pointer(&d->call);

	if (!call)
		return;
	g_debug("Withdrawing dialog %" G_GINT64_FORMAT ": %s",
		d->request->dialog, why);
	picker_server_fail(d->server, call, ERROR_WITHDRAWN,
			   dialog_parameters(d));
}

static void
dismiss_pending(struct picker_dialog *d)
{
	struct picker_call *call = g_steal_pointer(&d->call);

	if (!call)
		return;
	g_debug("Dialog %" G_GINT64_FORMAT " dismissed", d->request->dialog);
	picker_server_fail(d->server, call, ERROR_DISMISSED,
			   dialog_parameters(d));
}

/* Hides the window and frees the request, after the rows that point
 * into it. */
static void
hide_dialog(struct picker_dialog *d)
{
	stop_timers(d);
	gtk_widget_hide(d->w.window);
	gtk_spinner_stop(GTK_SPINNER(d->w.spinner));
	picker_window_clear(&d->w);
	g_clear_pointer(&d->request, picker_request_free);
	d->state = STATE_HIDDEN;
}

/* The scope to reply with. "Send no certificate" is never kept past the
 * session, so "always" falls back to "session" for it. */
static const char *
remember_scope(struct picker_dialog *d, bool send_none)
{
	const char *scope = picker_window_scope(&d->w);

	if (send_none && strcmp(scope, "always") == 0)
		return d->request->scopes & PICKER_SCOPE_SESSION ? "session"
								 : "once";
	return scope;
}

static void
set_busy(struct picker_dialog *d, const char *status)
{
	d->state = STATE_BUSY;
	stop_timers(d);
	gtk_widget_hide(d->w.countdown);
	gtk_widget_set_sensitive(d->w.content, FALSE);
	gtk_header_bar_set_subtitle(GTK_HEADER_BAR(d->w.header), status);
	gtk_spinner_start(GTK_SPINNER(d->w.spinner));
	update_actions(d);
}

/* Replies to the pending Choose with chosen, or with "send no certificate"
 * when chosen is NULL, then waits for certpickd in the busy state. The
 * passphrase goes into a JSON string that the wiping allocator clears when
 * it is freed, and the entry is wiped right after. */
static void
answer(struct picker_dialog *d, const struct picker_candidate *chosen)
{
	struct picker_call *call;
	json_t *reply;

	if (!d->call || d->state != STATE_ASKING)
		return;
	call = g_steal_pointer(&d->call);
	reply = json_pack("{s:s?, s:s}", "id", chosen ? chosen->id : NULL,
			  "remember", remember_scope(d, chosen == NULL));
	if (reply && chosen && chosen->locked)
		json_object_set_new(
			reply, "passphrase",
			json_string(picker_window_passphrase(&d->w)));
	g_debug("Dialog %" G_GINT64_FORMAT " answered with %s",
		d->request->dialog, chosen ? chosen->id : "no certificate");
	picker_server_reply(d->server, call, reply);
	picker_window_wipe_passphrase(&d->w);

	if (!chosen)
		set_busy(d, "Continuing without a certificate…");
	else if (chosen->locked)
		set_busy(d, "Checking the passphrase…");
	else
		set_busy(d, "Sending the certificate…");
}

static void
on_send_clicked(GtkButton *button, struct picker_dialog *d)
{
	answer(d, picker_window_selected(&d->w));
}

static void
on_none_clicked(GtkButton *button, struct picker_dialog *d)
{
	answer(d, NULL);
}

/* Enter or a double click on a row sends it, unless its key still needs
 * the passphrase. */
static void
on_row_activated(GtkListBox *list, GtkListBoxRow *row, struct picker_dialog *d)
{
	const struct picker_candidate *chosen = picker_row_candidate(row);

	if (chosen && chosen->locked && !*picker_window_passphrase(&d->w)) {
		gtk_widget_grab_focus(d->w.passphrase_entry);
		return;
	}
	answer(d, chosen);
}

static void
on_row_selected(GtkListBox *list, GtkListBoxRow *row, struct picker_dialog *d)
{
	if (!d->request)
		return;
	picker_window_show_selected(&d->w, d->request);
	update_actions(d);
}

static void
on_passphrase_changed(GtkEditable *editable, struct picker_dialog *d)
{
	update_actions(d);
}

static void
on_scope_changed(GtkComboBox *combo, struct picker_dialog *d)
{
	picker_window_show_scope_note(&d->w);
}

/* The person closed the window without choosing. */
static gboolean
on_delete(GtkWidget *window, GdkEvent *event, struct picker_dialog *d)
{
	dismiss_pending(d);
	hide_dialog(d);
	return TRUE;
}

/* Escape sends no certificate, unless a widget (an open menu, say) has
 * used the key already. */
static gboolean
on_key_press(GtkWidget *window, GdkEventKey *event, struct picker_dialog *d)
{
	GdkModifierType modifiers = gtk_accelerator_get_default_mod_mask();

	if (event->keyval != GDK_KEY_Escape || (event->state & modifiers))
		return FALSE;
	if (d->state == STATE_ASKING)
		answer(d, NULL);
	return TRUE;
}

static void
on_active_changed(GObject *window, GParamSpec *pspec, struct picker_dialog *d)
{
	if (gtk_window_is_active(GTK_WINDOW(window)))
		gtk_window_set_urgency_hint(GTK_WINDOW(window), FALSE);
}

static gboolean
on_draw(GtkWidget *window, cairo_t *cr, struct picker_dialog *d)
{
	d->paints++;
	g_message("Painted dialog %" G_GINT64_FORMAT " (paint %u) at "
		  "monotonic_us=%" G_GINT64_FORMAT,
		  d->request ? d->request->dialog : -1, d->paints,
		  g_get_monotonic_time());
	return FALSE;
}

static gboolean
on_grace_over(struct picker_dialog *d)
{
	d->grace_source = 0;
	g_warning("certpickd did not close dialog %" G_GINT64_FORMAT
		  " %d seconds after its timeout; closing it",
		  d->request->dialog, TIMEOUT_GRACE_SECONDS);
	dismiss_pending(d);
	hide_dialog(d);
	return G_SOURCE_REMOVE;
}

static void
expire(struct picker_dialog *d)
{
	d->state = STATE_EXPIRED;
	picker_window_set_countdown(&d->w, "Timed out", true);
	gtk_widget_set_sensitive(d->w.content, FALSE);
	update_actions(d);
	d->grace_source = g_timeout_add_seconds(TIMEOUT_GRACE_SECONDS,
						(GSourceFunc)on_grace_over, d);
}

static gboolean
on_countdown_tick(struct picker_dialog *d)
{
	gint64 left = d->deadline - g_get_monotonic_time();
	gint64 seconds = (left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
	g_autofree char *clock = NULL;
	g_autofree char *text = NULL;

	d->countdown_source = 0;
	if (left <= 0) {
		expire(d);
		return G_SOURCE_REMOVE;
	}

	clock = picker_text_countdown(seconds);
	text = g_strdup_printf("Closes in %s", clock);
	picker_window_set_countdown(&d->w, text,
				    seconds <= COUNTDOWN_WARNING_SECONDS);

	/* Wake up when the shown second changes. */
	d->countdown_source =
		g_timeout_add((guint)((left - 1) % G_USEC_PER_SEC / 1000 + 1),
			      (GSourceFunc)on_countdown_tick, d);
	return G_SOURCE_REMOVE;
}

static void
start_countdown(struct picker_dialog *d)
{
	stop_timers(d);
	gtk_widget_set_visible(d->w.countdown, d->request->timeout > 0);
	if (d->request->timeout <= 0)
		return;
	d->deadline =
		g_get_monotonic_time() + d->request->timeout * G_USEC_PER_SEC;
	on_countdown_tick(d);
}

#ifdef GDK_WINDOWING_X11
/* Reads an XID in hexadecimal, with or without "0x" in front. */
static bool
parse_xid(const char *text, guint64 *xid)
{
	if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X"))
		text += 2;
	return g_ascii_string_to_unsigned(text, 16, 1, G_MAXUINT32, xid, NULL);
}

/* Makes the window transient for the X11 window that handle ("x11:XID",
 * hexadecimal) names, or for none. Returns true when it has a parent. */
static bool
set_x11_parent(struct picker_dialog *d, const char *handle)
{
	GdkWindow *window = gtk_widget_get_window(d->w.window);
	GdkDisplay *display = gtk_widget_get_display(d->w.window);
	guint64 xid = 0;

	if (handle && g_str_has_prefix(handle, "x11:") &&
	    parse_xid(handle + strlen("x11:"), &xid)) {
		gdk_x11_display_error_trap_push(display);
		d->parent = gdk_x11_window_foreign_new_for_display(display,
								   (Window)xid);
		gdk_x11_display_error_trap_pop_ignored(display);
		if (!d->parent)
			g_info("The parent window %.40s does not exist",
			       handle);
	} else if (handle) {
		g_warning("Ignoring the parent window \"%.40s\": expected "
			  "x11:XID with a hexadecimal XID",
			  handle);
	}

	/* The window is reused, so the parent of an earlier dialog may still
	 * be set. GDK 3 cannot unset it (a NULL parent crashes), so the
	 * property goes through Xlib. */
	gdk_x11_display_error_trap_push(display);
	if (d->parent)
		gdk_window_set_transient_for(window, d->parent);
	else
		XDeleteProperty(GDK_WINDOW_XDISPLAY(window),
				GDK_WINDOW_XID(window),
				gdk_x11_get_xatom_by_name_for_display(
					display, "WM_TRANSIENT_FOR"));
	gdk_x11_display_error_trap_pop_ignored(display);
	gdk_window_set_modal_hint(window, d->parent != NULL);
	return d->parent != NULL;
}
#endif

/* Makes the window transient for the requesting window, given as
 * "x11:XID" or, on Wayland, as "wayland:HANDLE" from xdg-foreign. Returns
 * false when there is no usable parent. */
static bool
set_parent(struct picker_dialog *d, const char *handle)
{
	GdkDisplay *display = gtk_widget_get_display(d->w.window);

	g_clear_object(&d->parent);
#ifdef GDK_WINDOWING_X11
	if (GDK_IS_X11_DISPLAY(display))
		return set_x11_parent(d, handle);
#endif
#ifdef GDK_WINDOWING_WAYLAND
	/* NOTE: no test covers this path, because the tests run on Xvfb. */
	if (GDK_IS_WAYLAND_DISPLAY(display) && handle &&
	    g_str_has_prefix(handle, "wayland:"))
		return gdk_wayland_window_set_transient_for_exported(
			gtk_widget_get_window(d->w.window),
			(char *)handle + strlen("wayland:"));
#endif
	if (handle)
		g_info("Ignoring the parent window \"%.40s\" on this display",
		       handle);
	return false;
}

/* Brings the window to the front: transient for the requesting window,
 * or on its own with the urgency hint. */
static void
present(struct picker_dialog *d)
{
	GtkWidget *window = d->w.window;
	bool has_parent;
	guint32 time = GDK_CURRENT_TIME;

	gtk_widget_realize(window);
	has_parent = set_parent(d, d->request->parent_window);
	gtk_window_set_urgency_hint(GTK_WINDOW(window), !has_parent);
	gtk_widget_show(window);
#ifdef GDK_WINDOWING_X11
	/* A real timestamp lets the window manager raise and focus a window
	 * that the person did not click on. */
	if (GDK_IS_X11_DISPLAY(gtk_widget_get_display(window)))
		time = gdk_x11_get_server_time(gtk_widget_get_window(window));
#endif
	gtk_window_present_with_time(GTK_WINDOW(window), time);
}

void
picker_dialog_choose(struct picker_dialog *d, struct picker_call *call,
		     struct picker_request *request)
{
	bool same_dialog = d->request && d->request->dialog == request->dialog;

	if (d->call)
		withdraw_pending(d, same_dialog ? "asked again"
						: "replaced by a new dialog");
	if (d->request && !same_dialog)
		hide_dialog(d);

	/* The rows point into the old request: drop them before it. */
	picker_window_clear(&d->w);
	picker_request_free(d->request);
	d->request = request;
	d->call = call;
	d->state = STATE_ASKING;

	g_debug("Showing dialog %" G_GINT64_FORMAT " (%zu candidates, %zu "
		"eligible%s)",
		request->dialog, request->n_candidates, request->n_eligible,
		request->retry ? ", retry" : "");
	picker_window_fill(&d->w, request, same_dialog);
	start_countdown(d);
	update_actions(d);
	present(d);
	picker_window_focus_first(&d->w);
}

void
picker_dialog_close(struct picker_dialog *d, int64_t number, const char *reason)
{
	if (!d->request || d->request->dialog != number) {
		g_debug("Close of dialog %" G_GINT64_FORMAT ", which is not "
			"shown",
			number);
		return;
	}
	g_debug("Closing dialog %" G_GINT64_FORMAT ": %.40s", number, reason);
	withdraw_pending(d, reason);
	hide_dialog(d);
}

static void
connect_signals(struct picker_dialog *d, bool trace_paint)
{
	struct picker_window *w = &d->w;

	g_signal_connect(w->send_button, "clicked", G_CALLBACK(on_send_clicked),
			 d);
	g_signal_connect(w->none_button, "clicked", G_CALLBACK(on_none_clicked),
			 d);
	g_signal_connect(w->list, "row-selected", G_CALLBACK(on_row_selected),
			 d);
	g_signal_connect(w->list, "row-activated", G_CALLBACK(on_row_activated),
			 d);
	g_signal_connect(w->passphrase_entry, "changed",
			 G_CALLBACK(on_passphrase_changed), d);
	g_signal_connect(w->remember_combo, "changed",
			 G_CALLBACK(on_scope_changed), d);
	g_signal_connect(w->window, "delete-event", G_CALLBACK(on_delete), d);
	g_signal_connect_after(w->window, "key-press-event",
			       G_CALLBACK(on_key_press), d);
	g_signal_connect(w->window, "notify::is-active",
			 G_CALLBACK(on_active_changed), d);
	if (trace_paint)
		g_signal_connect_after(w->window, "draw", G_CALLBACK(on_draw),
				       d);
}

struct picker_dialog *
picker_dialog_new(struct picker_server *server, bool trace_paint)
{
	struct picker_dialog *d = g_new0(struct picker_dialog, 1);

	d->server = server;
	picker_window_build(&d->w);
	connect_signals(d, trace_paint);
	return d;
}

void
picker_dialog_free(struct picker_dialog *d)
{
	if (!d)
		return;
	withdraw_pending(d, "the picker stops");
	if (d->request)
		hide_dialog(d);
	g_clear_object(&d->parent);
	gtk_widget_destroy(d->w.window);
	g_free(d);
}

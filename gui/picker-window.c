/* The widgets of the picker's window; see picker-window.h. */
#include "picker-window.h"

#include <string.h>

#include "picker-rows.h"
#include "picker-secret-buffer.h"
#include "picker-text.h"

/* Height in pixels of the list of eligible identities before it scrolls:
 * four rows. */
#define LIST_MAX_HEIGHT 260

/* Width in pixels of the window's content, and the characters in a line
 * of wrapped text, which must not make it wider. */
#define CONTENT_WIDTH 600
#define TEXT_WIDTH_CHARS 60

static const char picker_css[] =
	".picker-name { font-weight: bold; }\n"
	".picker-caption { font-size: smaller; }\n"
	".picker-monospace { font-family: monospace; }\n"
	".picker-warning { color: @warning_color; }\n"
	"row:selected .picker-warning { color: inherit; }\n"
	".picker-error { color: @error_color; }\n"
	"row.picker-excluded label,\n"
	"row.picker-excluded image { opacity: 0.55; }\n"
	"row.picker-excluded label.picker-reason,\n"
	"row.picker-excluded image.picker-reason { opacity: 1; }\n";

static void
add_class(GtkWidget *widget, const char *name)
{
	gtk_style_context_add_class(gtk_widget_get_style_context(widget), name);
}

static GtkWidget *
wrapping_label_new(const char *style_class)
{
	GtkWidget *label = gtk_label_new(NULL);

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
	gtk_label_set_line_wrap_mode(GTK_LABEL(label), PANGO_WRAP_WORD_CHAR);
	gtk_label_set_max_width_chars(GTK_LABEL(label), TEXT_WIDTH_CHARS);
	if (style_class)
		add_class(label, style_class);
	return label;
}

static void
clear_list(GtkWidget *list)
{
	GList *rows = gtk_container_get_children(GTK_CONTAINER(list));

	for (GList *row = rows; row; row = row->next)
		gtk_widget_destroy(row->data);
	g_list_free(rows);
}

/* Lets the focus into the child of an expander only while it is expanded.
 * GTK 3.24 lets Tab into the child of a collapsed expander, where the
 * focus then sits on something that cannot be seen. */
static void
sync_expander_child(GtkExpander *expander)
{
	GtkWidget *child = gtk_bin_get_child(GTK_BIN(expander));

	if (child)
		gtk_widget_set_sensitive(child,
					 gtk_expander_get_expanded(expander));
}

static void
on_expanded_changed(GObject *expander, GParamSpec *pspec, void *data)
{
	sync_expander_child(GTK_EXPANDER(expander));
}

static void
set_details(struct picker_window *w, const struct picker_candidate *chosen)
{
	GtkWidget *old = gtk_bin_get_child(GTK_BIN(w->details_expander));

	if (old)
		gtk_widget_destroy(old);
	gtk_widget_set_visible(w->details_expander, chosen != NULL);
	if (chosen)
		gtk_container_add(GTK_CONTAINER(w->details_expander),
				  picker_details_new(chosen));
	sync_expander_child(GTK_EXPANDER(w->details_expander));
}

static void
show_passphrase(struct picker_window *w, const struct picker_request *request,
		const struct picker_candidate *chosen)
{
	bool retry = request && request->retry && chosen &&
		     strcmp(request->retry_id, chosen->id) == 0;
	g_autofree char *hint = NULL;
	g_autofree char *name = NULL;

	gtk_widget_set_visible(w->passphrase_box, chosen && chosen->locked);
	if (!chosen || !chosen->locked)
		return;

	hint = g_strdup_printf("The private key of “%s” is encrypted.",
			       chosen->display_name);
	gtk_label_set_text(GTK_LABEL(w->passphrase_hint), hint);
	name = g_strdup_printf("Passphrase for %s", chosen->display_name);
	picker_set_accessible_name(w->passphrase_entry, name);

	gtk_widget_set_visible(w->passphrase_error, retry);
	if (retry) {
		g_autofree char *error = picker_text_retry(
			request->retry_reason, request->retry_tries_left);

		gtk_label_set_text(GTK_LABEL(w->passphrase_error), error);
	}
}

static void
fill_header(struct picker_window *w, const struct picker_request *r)
{
	g_autofree char *host = picker_text_clean(r->host, 80);
	g_autofree char *heading =
		g_strdup_printf("%s asks for a certificate", host);
	g_autofree char *name = picker_text_clean(r->requester_name, 80);
	g_autofree char *application = g_strdup_printf(
		"%s (process %" G_GINT64_FORMAT ")", name, r->requester_pid);
	g_autofree char *address = picker_request_server_text(r);
	g_autofree char *executable =
		picker_text_clean(r->requester_executable, 300);

	gtk_label_set_text(GTK_LABEL(w->heading), heading);
	atk_object_set_description(gtk_widget_get_accessible(w->window),
				   heading);
	gtk_label_set_text(GTK_LABEL(w->application), application);
	gtk_widget_set_tooltip_text(w->application,
				    *executable ? executable : NULL);
	gtk_label_set_text(GTK_LABEL(w->server_address), address);

	gtk_widget_set_visible(w->organization_key,
			       r->server_organization != NULL);
	gtk_widget_set_visible(w->organization, r->server_organization != NULL);
	if (r->server_organization) {
		g_autofree char *organization = picker_text_clean(
			r->server_organization, PICKER_TEXT_MAX_CHARS);

		gtk_label_set_text(GTK_LABEL(w->organization), organization);
	}
	gtk_header_bar_set_subtitle(GTK_HEADER_BAR(w->header), NULL);
}

static void
fill_notice(struct picker_window *w, const struct picker_request *r)
{
	gtk_widget_set_visible(w->notice, !r->ca_names_given);
	gtk_label_set_text(GTK_LABEL(w->notice_label),
			   "The server did not name the certificate "
			   "authorities it accepts, so certificates from "
			   "every issuer are listed.");
	gtk_label_set_text(GTK_LABEL(w->empty_detail),
			   r->n_candidates > 0
				   ? "You can continue without a certificate, "
				     "but the server may then refuse the "
				     "connection. The certificates it does "
				     "not accept are listed below."
				   : "You have no certificates. You can "
				     "continue without one, but the server "
				     "may then refuse the connection.");
}

static void
fill_lists(struct picker_window *w, const struct picker_request *r,
	   bool same_dialog)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	const char *to_select = r->retry ? r->retry_id : r->preselected;
	GtkListBoxRow *first = NULL, *selected = NULL;
	size_t n_excluded = r->n_candidates - r->n_eligible;
	g_autofree char *excluded_title =
		picker_text_excluded_title(n_excluded, r->omitted_excluded);
	g_autofree char *omitted_eligible =
		picker_text_omitted_eligible(r->omitted_eligible);

	for (size_t i = 0; i < r->n_candidates; i++) {
		const struct picker_candidate *c = r->candidates[i];
		GtkWidget *row;

		if (!c->eligible) {
			row = picker_excluded_row_new(c, now);
			gtk_container_add(GTK_CONTAINER(w->excluded_list), row);
			continue;
		}
		row = picker_row_new(c, now);
		gtk_container_add(GTK_CONTAINER(w->list), row);
		if (!first)
			first = GTK_LIST_BOX_ROW(row);
		if (to_select && strcmp(c->id, to_select) == 0)
			selected = GTK_LIST_BOX_ROW(row);
	}
	if (to_select && !selected)
		g_info("Dialog %" G_GINT64_FORMAT " preselects %.64s, which is "
		       "not an eligible candidate",
		       r->dialog, to_select);

	gtk_widget_set_visible(w->list_frame, r->n_eligible > 0);
	gtk_widget_set_visible(w->empty, r->n_eligible == 0);
	gtk_label_set_text(GTK_LABEL(w->omitted_note), omitted_eligible);
	gtk_widget_set_visible(w->omitted_note, r->omitted_eligible > 0);
	gtk_expander_set_label(GTK_EXPANDER(w->excluded_expander),
			       excluded_title);
	gtk_widget_set_visible(w->excluded_frame, n_excluded > 0);
	gtk_widget_set_visible(w->excluded_note, r->omitted_excluded > 0);
	gtk_widget_set_visible(w->excluded_expander,
			       n_excluded > 0 || r->omitted_excluded > 0);
	if (!same_dialog)
		gtk_expander_set_expanded(GTK_EXPANDER(w->excluded_expander),
					  r->n_eligible == 0);

	gtk_list_box_select_row(GTK_LIST_BOX(w->list),
				selected ? selected : first);
	picker_window_show_selected(w, r);
}

static void
fill_scopes(struct picker_window *w, const struct picker_request *r,
	    bool same_dialog)
{
	static const struct {
		unsigned bit;
		const char *id;
		const char *text;
	} scopes[] = {
		{PICKER_SCOPE_ONCE, "once", "Just this time"},
		{PICKER_SCOPE_SESSION, "session", "Until I log out"},
		{PICKER_SCOPE_ALWAYS, "always", NULL},
	};
	GtkComboBoxText *combo = GTK_COMBO_BOX_TEXT(w->remember_combo);
	g_autofree char *previous_scope = NULL;
	g_autofree char *address = picker_request_server_text(r);
	g_autofree char *always = g_strdup_printf("Always for %s", address);

	if (same_dialog)
		previous_scope = g_strdup(
			gtk_combo_box_get_active_id(GTK_COMBO_BOX(combo)));
	gtk_combo_box_text_remove_all(combo);
	for (size_t i = 0; i < G_N_ELEMENTS(scopes); i++) {
		if (r->scopes & scopes[i].bit)
			gtk_combo_box_text_append(
				combo, scopes[i].id,
				scopes[i].text ? scopes[i].text : always);
	}
	if (!previous_scope ||
	    !gtk_combo_box_set_active_id(GTK_COMBO_BOX(combo), previous_scope))
		gtk_combo_box_set_active(GTK_COMBO_BOX(combo), 0);

	gtk_widget_set_visible(w->remember_label, r->scopes != 0);
	gtk_widget_set_visible(w->remember_combo, r->scopes != 0);
	picker_window_show_scope_note(w);
}

void
picker_window_focus_first(struct picker_window *w)
{
	const struct picker_candidate *chosen = picker_window_selected(w);
	GtkListBoxRow *row =
		gtk_list_box_get_selected_row(GTK_LIST_BOX(w->list));

	if (chosen && chosen->locked)
		gtk_widget_grab_focus(w->passphrase_entry);
	else if (row)
		gtk_widget_grab_focus(GTK_WIDGET(row));
	else
		gtk_widget_grab_focus(w->none_button);
}

static GtkWidget *
build_header(struct picker_window *w)
{
	w->header = gtk_header_bar_new();
	gtk_header_bar_set_title(GTK_HEADER_BAR(w->header),
				 "Choose a Certificate");

	w->none_button = gtk_button_new_with_mnemonic("Send _No Certificate");
	picker_set_accessible_name(w->none_button, "Send No Certificate");
	gtk_widget_set_tooltip_text(w->none_button,
				    "Continue without a certificate (Escape)");
	gtk_widget_set_can_default(w->none_button, TRUE);
	gtk_header_bar_pack_start(GTK_HEADER_BAR(w->header), w->none_button);

	w->send_button = gtk_button_new_with_mnemonic("_Send");
	picker_set_accessible_name(w->send_button, "Send");
	add_class(w->send_button, "suggested-action");
	gtk_widget_set_can_default(w->send_button, TRUE);
	gtk_header_bar_pack_end(GTK_HEADER_BAR(w->header), w->send_button);

	w->spinner = gtk_spinner_new();
	picker_set_accessible_name(w->spinner, "Busy");
	gtk_header_bar_pack_end(GTK_HEADER_BAR(w->header), w->spinner);
	gtk_widget_show_all(w->header);
	return w->header;
}

/* Adds a "key  value" line to the grid that shows who asks. */
static GtkWidget *
add_fact(GtkWidget *grid, int line, const char *key, GtkWidget **key_label)
{
	GtkWidget *label = gtk_label_new(key);
	GtkWidget *value = wrapping_label_new(NULL);

	gtk_label_set_xalign(GTK_LABEL(label), 1);
	gtk_widget_set_valign(label, GTK_ALIGN_START);
	add_class(label, "dim-label");
	gtk_label_set_mnemonic_widget(GTK_LABEL(label), value);
	gtk_label_set_selectable(GTK_LABEL(value), TRUE);
	gtk_widget_set_can_focus(value, FALSE);
	gtk_grid_attach(GTK_GRID(grid), label, 0, line, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), value, 1, line, 1, 1);
	if (key_label)
		*key_label = label;
	return value;
}

static GtkWidget *
build_intro(struct picker_window *w)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 18);
	GtkWidget *icon = gtk_image_new_from_icon_name(
		"application-certificate-symbolic", GTK_ICON_SIZE_DIALOG);
	GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 10);
	GtkWidget *facts = gtk_grid_new();
	PangoAttrList *attributes = pango_attr_list_new();

	gtk_image_set_pixel_size(GTK_IMAGE(icon), 48);
	add_class(icon, "dim-label");
	gtk_widget_set_valign(icon, GTK_ALIGN_START);
	gtk_container_add(GTK_CONTAINER(box), icon);

	w->heading = wrapping_label_new(NULL);
	pango_attr_list_insert(attributes,
			       pango_attr_weight_new(PANGO_WEIGHT_BOLD));
	pango_attr_list_insert(attributes, pango_attr_scale_new(1.2));
	gtk_label_set_attributes(GTK_LABEL(w->heading), attributes);
	pango_attr_list_unref(attributes);
	gtk_container_add(GTK_CONTAINER(text), w->heading);

	gtk_grid_set_column_spacing(GTK_GRID(facts), 12);
	gtk_grid_set_row_spacing(GTK_GRID(facts), 4);
	w->application = add_fact(facts, 0, "Application", NULL);
	w->server_address = add_fact(facts, 1, "Server", NULL);
	w->organization =
		add_fact(facts, 2, "Organization", &w->organization_key);
	gtk_container_add(GTK_CONTAINER(text), facts);

	gtk_widget_set_hexpand(text, TRUE);
	gtk_container_add(GTK_CONTAINER(box), text);
	gtk_widget_show_all(box);
	return box;
}

static GtkWidget *
build_notice(struct picker_window *w)
{
	GtkWidget *icon = gtk_image_new_from_icon_name(
		"dialog-information-symbolic", GTK_ICON_SIZE_BUTTON);

	w->notice = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	w->notice_label = wrapping_label_new("dim-label");
	gtk_widget_set_hexpand(w->notice_label, TRUE);
	gtk_widget_set_valign(icon, GTK_ALIGN_START);
	add_class(icon, "dim-label");
	gtk_container_add(GTK_CONTAINER(w->notice), icon);
	gtk_container_add(GTK_CONTAINER(w->notice), w->notice_label);
	gtk_widget_show_all(w->notice);
	return w->notice;
}

static void
add_row_separators(GtkListBoxRow *row, GtkListBoxRow *before, void *data)
{
	if (before && !gtk_list_box_row_get_header(row))
		gtk_list_box_row_set_header(
			row, gtk_separator_new(GTK_ORIENTATION_HORIZONTAL));
}

/* Makes Tab leave a list box from any row. GTK 3 moves the focus to the
 * next row instead, so that reaching Send would take a Tab per row. The
 * arrow keys still move within the list. */
static gboolean
on_list_focus(GtkWidget *list, GtkDirectionType direction, void *data)
{
	bool tab = direction == GTK_DIR_TAB_FORWARD ||
		   direction == GTK_DIR_TAB_BACKWARD;

	if (!tab || !gtk_container_get_focus_child(GTK_CONTAINER(list)))
		return FALSE;
	g_signal_stop_emission_by_name(list, "focus");
	return FALSE;
}

/* Moves the focus to the selected row on the list's mnemonic (Alt+C). A
 * GtkListBox cannot take the focus itself, so GTK's default handler
 * would do nothing. */
static gboolean
on_list_mnemonic(GtkWidget *list, gboolean group_cycling, void *data)
{
	GtkListBoxRow *row = gtk_list_box_get_selected_row(GTK_LIST_BOX(list));

	if (!row)
		row = gtk_list_box_get_row_at_index(GTK_LIST_BOX(list), 0);
	if (row)
		gtk_widget_grab_focus(GTK_WIDGET(row));
	return TRUE;
}

/* A list box in a frame, as GNOME shows lists in dialogs. */
static GtkWidget *
framed_list_new(GtkWidget **list, const char *accessible_name, int max_height)
{
	GtkWidget *frame = gtk_frame_new(NULL);
	GtkWidget *scrolled = gtk_scrolled_window_new(NULL, NULL);

	*list = gtk_list_box_new();
	picker_set_accessible_name(*list, accessible_name);
	g_signal_connect(*list, "focus", G_CALLBACK(on_list_focus), NULL);
	gtk_list_box_set_header_func(GTK_LIST_BOX(*list), add_row_separators,
				     NULL, NULL);
	gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled),
				       GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
	gtk_scrolled_window_set_propagate_natural_height(
		GTK_SCROLLED_WINDOW(scrolled), TRUE);
	gtk_scrolled_window_set_max_content_height(
		GTK_SCROLLED_WINDOW(scrolled), max_height);
	gtk_container_add(GTK_CONTAINER(scrolled), *list);
	gtk_container_add(GTK_CONTAINER(frame), scrolled);
	gtk_widget_show_all(frame);
	return frame;
}

/* What shows in place of the list when no identity is eligible. A list
 * box placeholder would do that too, but assistive technologies see only
 * the rows of a GtkListBox. */
static GtkWidget *
build_empty(struct picker_window *w)
{
	GtkWidget *frame = gtk_frame_new(NULL);
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
	GtkWidget *title =
		gtk_label_new("No certificate is accepted by this server");
	PangoAttrList *attributes = pango_attr_list_new();

	w->empty = frame;
	gtk_container_add(GTK_CONTAINER(frame), box);
	g_object_set(box, "margin", 18, NULL);
	pango_attr_list_insert(attributes,
			       pango_attr_weight_new(PANGO_WEIGHT_BOLD));
	gtk_label_set_attributes(GTK_LABEL(title), attributes);
	pango_attr_list_unref(attributes);
	gtk_container_add(GTK_CONTAINER(box), title);

	w->empty_detail = wrapping_label_new("dim-label");
	gtk_label_set_justify(GTK_LABEL(w->empty_detail), GTK_JUSTIFY_CENTER);
	gtk_label_set_xalign(GTK_LABEL(w->empty_detail), 0.5);
	gtk_container_add(GTK_CONTAINER(box), w->empty_detail);
	gtk_widget_show_all(frame);
	gtk_widget_set_no_show_all(frame, TRUE);
	return frame;
}

static GtkWidget *
build_list(struct picker_window *w)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
	GtkWidget *label = gtk_label_new_with_mnemonic("_Certificate");
	GtkWidget *frame = framed_list_new(&w->list,
					   "Certificates accepted by this "
					   "server",
					   LIST_MAX_HEIGHT);

	w->list_frame = frame;

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	add_class(label, "picker-name");
	gtk_label_set_mnemonic_widget(GTK_LABEL(label), w->list);
	g_signal_connect(w->list, "mnemonic-activate",
			 G_CALLBACK(on_list_mnemonic), NULL);
	gtk_container_add(GTK_CONTAINER(box), label);

	gtk_list_box_set_selection_mode(GTK_LIST_BOX(w->list),
					GTK_SELECTION_BROWSE);
	/* GtkListBox activates a row on a single click by default, which
	 * would send the certificate as soon as the person selects it. A
	 * click selects, as in browsers' dialogs, and a double click or
	 * Enter sends. */
	gtk_list_box_set_activate_on_single_click(GTK_LIST_BOX(w->list), FALSE);
	gtk_container_add(GTK_CONTAINER(box), frame);
	w->omitted_note = wrapping_label_new("dim-label");
	add_class(w->omitted_note, "picker-caption");
	gtk_container_add(GTK_CONTAINER(box), w->omitted_note);
	gtk_container_add(GTK_CONTAINER(box), build_empty(w));
	gtk_widget_show_all(box);
	gtk_widget_set_no_show_all(frame, TRUE);
	gtk_widget_set_no_show_all(w->omitted_note, TRUE);
	return box;
}

static GtkWidget *
build_passphrase(struct picker_window *w)
{
	GtkWidget *grid = gtk_grid_new();
	GtkWidget *label = gtk_label_new_with_mnemonic("_Passphrase");
	GtkEntryBuffer *buffer = picker_secret_buffer_new();

	w->passphrase_box = grid;
	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	gtk_grid_set_row_spacing(GTK_GRID(grid), 4);

	w->passphrase_hint = wrapping_label_new("dim-label");
	gtk_grid_attach(GTK_GRID(grid), w->passphrase_hint, 0, 0, 2, 1);

	w->passphrase_entry = gtk_entry_new_with_buffer(buffer);
	g_object_unref(buffer);
	gtk_entry_set_visibility(GTK_ENTRY(w->passphrase_entry), FALSE);
	gtk_entry_set_input_purpose(GTK_ENTRY(w->passphrase_entry),
				    GTK_INPUT_PURPOSE_PASSWORD);
	gtk_entry_set_activates_default(GTK_ENTRY(w->passphrase_entry), TRUE);
	gtk_widget_set_hexpand(w->passphrase_entry, TRUE);
	gtk_label_set_mnemonic_widget(GTK_LABEL(label), w->passphrase_entry);
	gtk_grid_attach(GTK_GRID(grid), label, 0, 1, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), w->passphrase_entry, 1, 1, 1, 1);

	w->passphrase_error = wrapping_label_new("picker-error");
	gtk_grid_attach(GTK_GRID(grid), w->passphrase_error, 1, 2, 1, 1);
	gtk_widget_show_all(grid);
	gtk_widget_set_no_show_all(grid, TRUE);
	gtk_widget_hide(grid);
	return grid;
}

static GtkWidget *
build_details(struct picker_window *w)
{
	w->details_expander =
		gtk_expander_new_with_mnemonic("Certificate _Details");
	g_signal_connect(w->details_expander, "notify::expanded",
			 G_CALLBACK(on_expanded_changed), NULL);
	gtk_widget_set_no_show_all(w->details_expander, TRUE);
	return w->details_expander;
}

/* The expander of the excluded identities. Its title counts them, and a
 * note under the list points to the command that shows those that
 * certpickd left out. */
static GtkWidget *
build_excluded(struct picker_window *w)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
	GtkWidget *frame = framed_list_new(
		&w->excluded_list, "Certificates not accepted by this server",
		LIST_MAX_HEIGHT);

	gtk_list_box_set_selection_mode(GTK_LIST_BOX(w->excluded_list),
					GTK_SELECTION_NONE);
	gtk_widget_set_margin_top(box, 6);
	w->excluded_frame = frame;
	gtk_container_add(GTK_CONTAINER(box), frame);
	w->excluded_note = wrapping_label_new("dim-label");
	add_class(w->excluded_note, "picker-caption");
	gtk_label_set_text(GTK_LABEL(w->excluded_note),
			   "Run “certpick match” to see every certificate "
			   "and why it is not accepted.");
	gtk_container_add(GTK_CONTAINER(box), w->excluded_note);
	gtk_widget_show_all(box);
	gtk_widget_set_no_show_all(frame, TRUE);
	gtk_widget_set_no_show_all(w->excluded_note, TRUE);
	w->excluded_expander = gtk_expander_new(NULL);
	gtk_container_add(GTK_CONTAINER(w->excluded_expander), box);
	sync_expander_child(GTK_EXPANDER(w->excluded_expander));
	g_signal_connect(w->excluded_expander, "notify::expanded",
			 G_CALLBACK(on_expanded_changed), NULL);
	gtk_widget_show_all(w->excluded_expander);
	gtk_widget_set_no_show_all(w->excluded_expander, TRUE);
	return w->excluded_expander;
}

static GtkWidget *
build_footer(struct picker_window *w)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
	GtkWidget *line = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);

	w->remember_label =
		gtk_label_new_with_mnemonic("_Remember this decision");
	w->remember_combo = gtk_combo_box_text_new();
	picker_set_accessible_name(w->remember_combo, "Remember this decision");
	gtk_label_set_mnemonic_widget(GTK_LABEL(w->remember_label),
				      w->remember_combo);
	gtk_container_add(GTK_CONTAINER(line), w->remember_label);
	gtk_container_add(GTK_CONTAINER(line), w->remember_combo);

	w->countdown = gtk_label_new(NULL);
	add_class(w->countdown, "dim-label");
	atk_object_set_description(gtk_widget_get_accessible(w->countdown),
				   "Time left before the request times out");
	gtk_widget_set_hexpand(w->countdown, TRUE);
	gtk_widget_set_halign(w->countdown, GTK_ALIGN_END);
	gtk_container_add(GTK_CONTAINER(line), w->countdown);
	gtk_container_add(GTK_CONTAINER(box), line);

	w->remember_note = wrapping_label_new("dim-label");
	add_class(w->remember_note, "picker-caption");
	gtk_label_set_text(GTK_LABEL(w->remember_note),
			   "“Send No Certificate” is remembered until you "
			   "log out at most.");
	gtk_container_add(GTK_CONTAINER(box), w->remember_note);
	gtk_widget_show_all(box);
	gtk_widget_set_no_show_all(w->remember_note, TRUE);
	return box;
}

static void
load_css(void)
{
	g_autoptr(GtkCssProvider) provider = gtk_css_provider_new();

	gtk_css_provider_load_from_data(provider, picker_css, -1, NULL);
	gtk_style_context_add_provider_for_screen(
		gdk_screen_get_default(), GTK_STYLE_PROVIDER(provider),
		GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

void
picker_window_build(struct picker_window *w)
{
	GtkWindow *window;

	load_css();
	w->window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
	window = GTK_WINDOW(w->window);
	gtk_window_set_title(window, "Choose a Certificate");
	gtk_window_set_icon_name(window, "application-certificate");
	gtk_window_set_type_hint(window, GDK_WINDOW_TYPE_HINT_DIALOG);
	gtk_window_set_resizable(window, FALSE);
	gtk_window_set_position(window, GTK_WIN_POS_CENTER);
	gtk_window_set_titlebar(window, build_header(w));
	/* The dialog role tells assistive technologies that the window asks
	 * the person something; the description says what. */
	atk_object_set_role(gtk_widget_get_accessible(w->window),
			    ATK_ROLE_DIALOG);

	w->content = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
	g_object_set(w->content, "margin", 18, NULL);
	gtk_widget_set_size_request(w->content, CONTENT_WIDTH, -1);
	gtk_container_add(GTK_CONTAINER(w->content), build_intro(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_notice(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_list(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_passphrase(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_details(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_excluded(w));
	gtk_container_add(GTK_CONTAINER(w->content), build_footer(w));
	gtk_widget_show(w->content);
	gtk_container_add(GTK_CONTAINER(w->window), w->content);
}

void
picker_window_fill(struct picker_window *w,
		   const struct picker_request *request, bool same_dialog)
{
	gtk_widget_set_sensitive(w->content, TRUE);
	gtk_spinner_stop(GTK_SPINNER(w->spinner));
	fill_header(w, request);
	fill_notice(w, request);
	fill_lists(w, request, same_dialog);
	fill_scopes(w, request, same_dialog);
}

void
picker_window_clear(struct picker_window *w)
{
	picker_window_wipe_passphrase(w);
	clear_list(w->list);
	clear_list(w->excluded_list);
	set_details(w, NULL);
}

const struct picker_candidate *
picker_window_selected(struct picker_window *w)
{
	return picker_row_candidate(
		gtk_list_box_get_selected_row(GTK_LIST_BOX(w->list)));
}

void
picker_window_show_selected(struct picker_window *w,
			    const struct picker_request *request)
{
	const struct picker_candidate *chosen = picker_window_selected(w);

	picker_window_wipe_passphrase(w);
	set_details(w, chosen);
	show_passphrase(w, request, chosen);
}

const char *
picker_window_scope(struct picker_window *w)
{
	const char *scope =
		gtk_combo_box_get_active_id(GTK_COMBO_BOX(w->remember_combo));

	if (!scope || !gtk_widget_get_visible(w->remember_combo))
		return "once";
	return scope;
}

void
picker_window_show_scope_note(struct picker_window *w)
{
	gtk_widget_set_visible(w->remember_note,
			       strcmp(picker_window_scope(w), "always") == 0);
}

const char *
picker_window_passphrase(struct picker_window *w)
{
	return gtk_entry_get_text(GTK_ENTRY(w->passphrase_entry));
}

void
picker_window_wipe_passphrase(struct picker_window *w)
{
	gtk_entry_buffer_delete_text(
		gtk_entry_get_buffer(GTK_ENTRY(w->passphrase_entry)), 0, -1);
}

void
picker_window_set_countdown(struct picker_window *w, const char *text,
			    bool warn)
{
	GtkStyleContext *style = gtk_widget_get_style_context(w->countdown);

	gtk_label_set_text(GTK_LABEL(w->countdown), text);
	if (warn) {
		gtk_style_context_remove_class(style, "dim-label");
		gtk_style_context_add_class(style, "picker-warning");
	} else {
		gtk_style_context_remove_class(style, "picker-warning");
		gtk_style_context_add_class(style, "dim-label");
	}
}

/* Identity rows and the details grid; see picker-rows.h. */
#include "picker-rows.h"

#include "picker-text.h"

#define CANDIDATE_KEY "picker-candidate"

void
picker_set_accessible_name(GtkWidget *widget, const char *name)
{
	atk_object_set_name(gtk_widget_get_accessible(widget), name);
}

static void
add_class(GtkWidget *widget, const char *name)
{
	gtk_style_context_add_class(gtk_widget_get_style_context(widget), name);
}

static GtkWidget *
label_new(const char *text, const char *style_class)
{
	GtkWidget *label = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	if (style_class)
		add_class(label, style_class);
	return label;
}

static GtkWidget *
icon_new(const char *name, int size)
{
	GtkWidget *image =
		gtk_image_new_from_icon_name(name, GTK_ICON_SIZE_BUTTON);

	gtk_image_set_pixel_size(GTK_IMAGE(image), size);
	return image;
}

static char *
issuer_line(const struct picker_candidate *candidate)
{
	g_autofree char *issuer = picker_text_clean(
		*candidate->issuer_common_name ? candidate->issuer_common_name
					       : candidate->issuer,
		PICKER_TEXT_MAX_CHARS);

	return g_strdup_printf("Issued by %s", issuer);
}

/* The name line: the display name in bold and, when another identity has
 * the same name, what distinguishes this one. */
static GtkWidget *
name_line_new(const struct picker_candidate *candidate)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	GtkWidget *name = label_new(candidate->display_name, "picker-name");

	gtk_label_set_ellipsize(GTK_LABEL(name), PANGO_ELLIPSIZE_END);
	gtk_container_add(GTK_CONTAINER(box), name);
	if (candidate->distinction) {
		GtkWidget *distinction =
			label_new(candidate->distinction, "dim-label");

		gtk_widget_set_valign(distinction, GTK_ALIGN_BASELINE);
		gtk_widget_set_valign(name, GTK_ALIGN_BASELINE);
		gtk_container_add(GTK_CONTAINER(box), distinction);
	}
	return box;
}

/* The expiry at the end of a row, with a warning icon when it is near. */
static GtkWidget *
expiry_new(const char *text, bool warn)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
	GtkWidget *label = label_new(text, warn ? "picker-warning" : NULL);

	if (warn) {
		GtkWidget *icon = icon_new("dialog-warning-symbolic", 16);

		add_class(icon, "picker-warning");
		gtk_container_add(GTK_CONTAINER(box), icon);
	}
	gtk_container_add(GTK_CONTAINER(box), label);
	gtk_widget_set_halign(box, GTK_ALIGN_END);
	return box;
}

/* The storage line: where the identity is, and a lock when its key needs
 * a passphrase. */
static GtkWidget *
storage_line_new(const struct picker_candidate *candidate, const char *text)
{
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
	GtkWidget *label = label_new(text, "dim-label");
	g_autofree char *source = NULL;

	add_class(label, "picker-caption");
	gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_MIDDLE);
	if (candidate->locked) {
		GtkWidget *lock = icon_new("changes-prevent-symbolic", 12);

		add_class(lock, "dim-label");
		gtk_container_add(GTK_CONTAINER(box), lock);
	}
	gtk_container_add(GTK_CONTAINER(box), label);
	source = picker_text_clean(candidate->source, PICKER_TEXT_MAX_CHARS);
	gtk_widget_set_tooltip_text(box, source);
	return box;
}

/* Returns true when the reasons already state what the expiry would. */
static bool
reasons_cover_validity(const struct picker_candidate *candidate)
{
	return g_strv_contains((const char *const *)candidate->reasons,
			       "expired") ||
	       g_strv_contains((const char *const *)candidate->reasons,
			       "not-yet-valid");
}

/* The parts that eligible and excluded rows share:
 *
 *   [icon] Name [distinction]                 Expires 1 Dec 2036
 *          Issued by Example CA                         EC P-256
 *          Stored in a file · Encrypted key
 *
 * Returns the grid, whose fourth line is free for reasons, and the text
 * for assistive technologies in *accessible. */
static GtkWidget *
row_grid_new(const struct picker_candidate *candidate, GDateTime *now,
	     char **accessible)
{
	GtkWidget *grid = gtk_grid_new();
	GtkWidget *icon = icon_new("application-certificate-symbolic", 32);
	g_autofree char *issuer = issuer_line(candidate);
	g_autofree char *key = picker_text_key(candidate);
	g_autofree char *storage = picker_text_storage(candidate);
	g_autofree char *storage_text = g_strdup_printf(
		"%s%s", storage, candidate->locked ? " · Encrypted key" : "");
	bool show_expiry =
		candidate->eligible || !reasons_cover_validity(candidate);
	bool warn = false;
	g_autofree char *expiry = picker_text_expiry(candidate, now, &warn);
	GtkWidget *issuer_label = label_new(issuer, "dim-label");
	GtkWidget *key_label = label_new(key, "dim-label");

	gtk_grid_set_column_spacing(GTK_GRID(grid), 12);
	gtk_grid_set_row_spacing(GTK_GRID(grid), 2);
	g_object_set(grid, "margin-start", 12, "margin-end", 12, "margin-top",
		     8, "margin-bottom", 8, NULL);

	gtk_widget_set_valign(icon, GTK_ALIGN_START);
	gtk_widget_set_margin_top(icon, 2);
	gtk_grid_attach(GTK_GRID(grid), icon, 0, 0, 1, 3);

	gtk_widget_set_hexpand(issuer_label, TRUE);
	gtk_label_set_ellipsize(GTK_LABEL(issuer_label), PANGO_ELLIPSIZE_END);
	gtk_grid_attach(GTK_GRID(grid), name_line_new(candidate), 1, 0, 1, 1);
	gtk_grid_attach(GTK_GRID(grid), issuer_label, 1, 1, 1, 1);
	gtk_grid_attach(GTK_GRID(grid),
			storage_line_new(candidate, storage_text), 1, 2, 2, 1);

	if (show_expiry)
		gtk_grid_attach(GTK_GRID(grid), expiry_new(expiry, warn), 2, 0,
				1, 1);
	gtk_label_set_xalign(GTK_LABEL(key_label), 1);
	gtk_grid_attach(GTK_GRID(grid), key_label, 2, 1, 1, 1);

	*accessible = g_strdup_printf(
		"%s%s%s, %s, %s, %s%s%s", candidate->display_name,
		candidate->distinction ? ", " : "",
		candidate->distinction ? candidate->distinction : "", issuer,
		key, storage_text, show_expiry ? ", " : "",
		show_expiry ? expiry : "");
	return grid;
}

GtkWidget *
picker_row_new(const struct picker_candidate *candidate, GDateTime *now)
{
	GtkWidget *row = gtk_list_box_row_new();
	g_autofree char *accessible = NULL;
	GtkWidget *grid = row_grid_new(candidate, now, &accessible);

	gtk_container_add(GTK_CONTAINER(row), grid);
	g_object_set_data(G_OBJECT(row), CANDIDATE_KEY, (void *)candidate);
	picker_set_accessible_name(row, accessible);
	gtk_widget_show_all(row);
	return row;
}

GtkWidget *
picker_excluded_row_new(const struct picker_candidate *candidate,
			GDateTime *now)
{
	GtkWidget *row = gtk_list_box_row_new();
	g_autofree char *accessible = NULL;
	GtkWidget *grid = row_grid_new(candidate, now, &accessible);
	GtkWidget *reasons = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
	GString *name = g_string_new(accessible);

	add_class(row, "picker-excluded");
	gtk_list_box_row_set_selectable(GTK_LIST_BOX_ROW(row), FALSE);
	gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), FALSE);

	gtk_widget_set_margin_top(reasons, 4);
	for (char **code = candidate->reasons; *code; code++) {
		g_autofree char *text = picker_text_reason(candidate, *code);
		GtkWidget *line = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
		GtkWidget *label = label_new(text, "picker-reason");
		GtkWidget *icon = icon_new("action-unavailable-symbolic", 16);

		add_class(icon, "picker-reason");
		gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
		gtk_container_add(GTK_CONTAINER(line), icon);
		gtk_container_add(GTK_CONTAINER(line), label);
		gtk_container_add(GTK_CONTAINER(reasons), line);
		g_string_append_printf(name, ". %s", text);
	}
	gtk_grid_attach(GTK_GRID(grid), reasons, 1, 3, 2, 1);

	gtk_container_add(GTK_CONTAINER(row), grid);
	g_object_set_data(G_OBJECT(row), CANDIDATE_KEY, (void *)candidate);
	picker_set_accessible_name(row, name->str);
	g_string_free(name, TRUE);
	gtk_widget_show_all(row);
	return row;
}

const struct picker_candidate *
picker_row_candidate(GtkListBoxRow *row)
{
	return row ? g_object_get_data(G_OBJECT(row), CANDIDATE_KEY) : NULL;
}

/* Adds a "key: value" line to the details grid. Values are selectable so
 * that a person can copy a fingerprint, but stay out of the focus chain,
 * which would otherwise stop at each of them. */
static void
details_add(GtkGrid *grid, int *line, const char *key, const char *value)
{
	GtkWidget *key_label = label_new(key, "dim-label");
	GtkWidget *value_label = label_new(value, NULL);

	gtk_label_set_xalign(GTK_LABEL(key_label), 1);
	gtk_widget_set_valign(key_label, GTK_ALIGN_START);
	gtk_label_set_line_wrap(GTK_LABEL(value_label), TRUE);
	gtk_label_set_line_wrap_mode(GTK_LABEL(value_label),
				     PANGO_WRAP_WORD_CHAR);
	gtk_label_set_max_width_chars(GTK_LABEL(value_label), 56);
	gtk_label_set_selectable(GTK_LABEL(value_label), TRUE);
	gtk_widget_set_can_focus(value_label, FALSE);
	gtk_widget_set_hexpand(value_label, TRUE);

	gtk_label_set_mnemonic_widget(GTK_LABEL(key_label), value_label);
	gtk_grid_attach(grid, key_label, 0, *line, 1, 1);
	gtk_grid_attach(grid, value_label, 1, *line, 1, 1);
	(*line)++;
}

static void
details_add_clean(GtkGrid *grid, int *line, const char *key, const char *value)
{
	g_autofree char *clean = picker_text_clean(value, 1000);

	details_add(grid, line, key, clean);
}

/* Adds strings from a peer, one per line. */
static void
details_add_list(GtkGrid *grid, int *line, const char *key, char **values)
{
	GString *text = g_string_new(NULL);

	for (char **value = values; *value; value++) {
		g_autofree char *clean = picker_text_clean(*value, 300);

		g_string_append_printf(text, "%s%s", text->len ? "\n" : "",
				       clean);
	}
	details_add(grid, line, key, text->str);
	g_string_free(text, TRUE);
}

/* Adds usage names in words, one per line; "None" for an absent
 * extension. */
static void
details_add_usages(GtkGrid *grid, int *line, const char *key, char **names)
{
	GString *text = g_string_new(NULL);

	for (char **name = names; *name; name++) {
		g_autofree char *words = picker_text_usage(*name);

		g_string_append_printf(text, "%s%s", text->len ? "\n" : "",
				       words);
	}
	details_add(grid, line, key, text->len ? text->str : "None");
	g_string_free(text, TRUE);
}

/* Adds the chain from the leaf up, each issuer indented under the
 * certificate it signed. */
static void
details_add_chain(GtkGrid *grid, int *line, char **subjects)
{
	GString *text = g_string_new(NULL);
	int depth = 0;

	for (char **subject = subjects; *subject; subject++, depth++) {
		g_autofree char *clean = picker_text_clean(*subject, 300);

		if (text->len)
			g_string_append_c(text, '\n');
		for (int i = 1; i < depth; i++)
			g_string_append(text, "   ");
		g_string_append_printf(text, "%s%s", depth ? "└ " : "", clean);
	}
	details_add(grid, line, "Chain", text->len ? text->str : "None");
	g_string_free(text, TRUE);
}

GtkWidget *
picker_details_new(const struct picker_candidate *candidate)
{
	GtkWidget *grid = gtk_grid_new();
	GtkGrid *g = GTK_GRID(grid);
	g_autofree char *not_before = picker_text_date(candidate->not_before);
	g_autofree char *not_after = picker_text_date(candidate->not_after);
	g_autofree char *validity =
		g_strdup_printf("%s to %s", not_before, not_after);
	g_autofree char *fingerprint =
		picker_text_fingerprint(candidate->sha256_fingerprint);
	g_autofree char *key = picker_text_key(candidate);
	g_autofree char *storage = picker_text_storage(candidate);
	g_autofree char *source = picker_text_clean(candidate->source, 300);
	g_autofree char *where = g_strdup_printf("%s\n%s", storage, source);
	int line = 0;

	gtk_grid_set_column_spacing(g, 12);
	gtk_grid_set_row_spacing(g, 6);
	g_object_set(grid, "margin-top", 6, "margin-start", 6, NULL);

	details_add_clean(g, &line, "Subject", candidate->subject);
	details_add_clean(g, &line, "Issuer", candidate->issuer);
	details_add_clean(g, &line, "Serial", candidate->serial);
	details_add(g, &line, "Valid", validity);
	details_add(g, &line, "SHA-256", fingerprint);
	add_class(gtk_grid_get_child_at(g, 1, line - 1), "picker-monospace");
	details_add(g, &line, "Key", key);
	details_add_usages(g, &line, "Key usage", candidate->key_usage);
	details_add_usages(g, &line, "Extended key usage",
			   candidate->extended_key_usage);
	if (candidate->emails[0])
		details_add_list(g, &line, "E-mail", candidate->emails);
	details_add_chain(g, &line, candidate->chain_subjects);
	details_add(g, &line, "Stored", where);

	gtk_widget_show_all(grid);
	return grid;
}

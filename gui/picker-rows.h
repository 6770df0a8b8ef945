/* The widgets that show identities: a row of the list of eligible ones, a
 * row of the excluded ones with its reasons, and the details grid. */
#pragma once

#include <gtk/gtk.h>

#include "picker-request.h"

/* A selectable GtkListBoxRow for an eligible candidate, which must outlive
 * it; picker_row_candidate returns the candidate. now is the time that
 * expiry warnings are judged at. */
GtkWidget *picker_row_new(const struct picker_candidate *candidate,
			  GDateTime *now);

/* A greyed-out, unselectable row for an excluded candidate that lists the
 * reasons in words. */
GtkWidget *picker_excluded_row_new(const struct picker_candidate *candidate,
				   GDateTime *now);

const struct picker_candidate *picker_row_candidate(GtkListBoxRow *row);

/* A grid with everything about the candidate's certificate: subject,
 * issuer, serial, validity, SHA-256 fingerprint, key, key usages, e-mail
 * addresses, chain and storage. */
GtkWidget *picker_details_new(const struct picker_candidate *candidate);

/* Sets the name that assistive technologies read for widget. */
void picker_set_accessible_name(GtkWidget *widget, const char *name);

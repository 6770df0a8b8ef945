/* The passphrase buffer: editing at any position, whole UTF-8 characters
 * only, its size limit, and wiping of every byte that text leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "picker-secret-buffer.h"

/* Returns true when the len bytes at p are all zero. */
static bool
all_zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

static void
edits_at_any_position(void **state)
{
	GtkEntryBuffer *buffer = picker_secret_buffer_new();

	gtk_entry_buffer_insert_text(buffer, 0, "horse", -1);
	gtk_entry_buffer_insert_text(buffer, 0, "Ä ", -1);
	gtk_entry_buffer_insert_text(buffer, 99, " stäple", -1);
	assert_string_equal(gtk_entry_buffer_get_text(buffer),
			    "Ä horse stäple");
	assert_int_equal(gtk_entry_buffer_get_length(buffer), 14);
	assert_int_equal(gtk_entry_buffer_get_bytes(buffer), 16);

	gtk_entry_buffer_delete_text(buffer, 1, 6);
	assert_string_equal(gtk_entry_buffer_get_text(buffer), "Ä stäple");
	assert_int_equal(gtk_entry_buffer_get_length(buffer), 8);
	g_object_unref(buffer);
}

static void
deleted_text_is_wiped(void **state)
{
	GtkEntryBuffer *buffer = picker_secret_buffer_new();
	const char *text;

	gtk_entry_buffer_insert_text(buffer, 0, "correct horse", -1);
	text = gtk_entry_buffer_get_text(buffer);

	/* The buffer is one fixed block, so text stays valid and shows
	 * what is left behind in memory after each edit. */
	gtk_entry_buffer_delete_text(buffer, 0, 8);
	assert_string_equal(text, "horse");
	assert_true(all_zero(text + strlen("horse"), strlen("correct ")));

	gtk_entry_buffer_delete_text(buffer, 0, -1);
	assert_ptr_equal(gtk_entry_buffer_get_text(buffer), text);
	assert_true(all_zero(text, strlen("correct horse") + 1));
	g_object_unref(buffer);
}

static void
limit_keeps_whole_characters(void **state)
{
	GtkEntryBuffer *buffer = picker_secret_buffer_new();
	char *long_text = g_strnfill(PICKER_SECRET_MAX - 2, 'a');
	guint inserted;

	inserted = gtk_entry_buffer_insert_text(buffer, 0, long_text, -1);
	assert_int_equal(inserted, PICKER_SECRET_MAX - 2);

	/* One byte is left before the NUL, too little for "ä". */
	inserted = gtk_entry_buffer_insert_text(buffer, 0, "ä", -1);
	assert_int_equal(inserted, 0);
	inserted = gtk_entry_buffer_insert_text(buffer, 0, "bc", -1);
	assert_int_equal(inserted, 1);
	assert_int_equal(gtk_entry_buffer_get_bytes(buffer),
			 PICKER_SECRET_MAX - 1);
	assert_int_equal(gtk_entry_buffer_get_text(buffer)[0], 'b');
	g_free(long_text);
	g_object_unref(buffer);
}

static void
set_text_replaces_all(void **state)
{
	GtkEntryBuffer *buffer = picker_secret_buffer_new();

	gtk_entry_buffer_set_text(buffer, "s3cret", -1);
	assert_string_equal(gtk_entry_buffer_get_text(buffer), "s3cret");
	gtk_entry_buffer_set_text(buffer, "", -1);
	assert_int_equal(gtk_entry_buffer_get_length(buffer), 0);
	g_object_unref(buffer);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(edits_at_any_position),
		cmocka_unit_test(deleted_text_is_wiped),
		cmocka_unit_test(limit_keeps_whole_characters),
		cmocka_unit_test(set_text_replaces_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

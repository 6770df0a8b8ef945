/* A wiping GtkEntryBuffer; see picker-secret-buffer.h. */
#include "picker-secret-buffer.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

struct _PickerSecretBuffer {
	GtkEntryBuffer parent;
	char *text;	/* PICKER_SECRET_MAX bytes, NUL-terminated */
	size_t n_bytes; /* without the NUL */
	guint n_chars;
	bool locked;
};

G_DEFINE_TYPE(PickerSecretBuffer, picker_secret_buffer, GTK_TYPE_ENTRY_BUFFER)

static const char *
secret_get_text(GtkEntryBuffer *buffer, gsize *n_bytes)
{
	PickerSecretBuffer *self = PICKER_SECRET_BUFFER(buffer);

	if (n_bytes)
		*n_bytes = self->n_bytes;
	return self->text;
}

static guint
secret_get_length(GtkEntryBuffer *buffer)
{
	return PICKER_SECRET_BUFFER(buffer)->n_chars;
}

static size_t
byte_offset(const char *text, guint chars)
{
	return (size_t)(g_utf8_offset_to_pointer(text, chars) - text);
}

static guint
secret_insert_text(GtkEntryBuffer *buffer, guint position, const char *chars,
		   guint n_chars)
{
	PickerSecretBuffer *self = PICKER_SECRET_BUFFER(buffer);
	size_t at, n_bytes = 0;
	guint inserted = 0;

	/* Insert whole characters only, as many as fit with the NUL. */
	while (inserted < n_chars) {
		size_t next = byte_offset(chars + n_bytes, 1);

		if (self->n_bytes + n_bytes + next >= PICKER_SECRET_MAX)
			break;
		n_bytes += next;
		inserted++;
	}
	if (inserted == 0)
		return 0;

	position = MIN(position, self->n_chars);
	at = byte_offset(self->text, position);
	memmove(self->text + at + n_bytes, self->text + at,
		self->n_bytes - at + 1);
	memcpy(self->text + at, chars, n_bytes);
	self->n_bytes += n_bytes;
	self->n_chars += inserted;

	gtk_entry_buffer_emit_inserted_text(buffer, position, chars, inserted);
	return inserted;
}

static guint
secret_delete_text(GtkEntryBuffer *buffer, guint position, guint n_chars)
{
	PickerSecretBuffer *self = PICKER_SECRET_BUFFER(buffer);
	size_t start, end;

	if (position > self->n_chars)
		position = self->n_chars;
	if (n_chars > self->n_chars - position)
		n_chars = self->n_chars - position;
	if (n_chars == 0)
		return 0;

	start = byte_offset(self->text, position);
	end = byte_offset(self->text, position + n_chars);
	memmove(self->text + start, self->text + end, self->n_bytes - end + 1);
	self->n_bytes -= end - start;
	self->n_chars -= n_chars;
	/* Wipe the bytes that the move left behind the new end. */
	OPENSSL_cleanse(self->text + self->n_bytes + 1, end - start);

	gtk_entry_buffer_emit_deleted_text(buffer, position, n_chars);
	return n_chars;
}

static void
picker_secret_buffer_finalize(GObject *object)
{
	PickerSecretBuffer *self = PICKER_SECRET_BUFFER(object);

	OPENSSL_cleanse(self->text, PICKER_SECRET_MAX);
	if (self->locked)
		munlock(self->text, PICKER_SECRET_MAX);
	g_free(self->text);
	G_OBJECT_CLASS(picker_secret_buffer_parent_class)->finalize(object);
}

static void
picker_secret_buffer_init(PickerSecretBuffer *self)
{
	self->text = g_malloc0(PICKER_SECRET_MAX);
	/* Keeping the passphrase out of swap is best effort: an unprivileged
	 * process may lock only RLIMIT_MEMLOCK bytes. */
	self->locked = mlock(self->text, PICKER_SECRET_MAX) == 0;
}

static void
picker_secret_buffer_class_init(PickerSecretBufferClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkEntryBufferClass *buffer_class = GTK_ENTRY_BUFFER_CLASS(klass);

	object_class->finalize = picker_secret_buffer_finalize;
	buffer_class->get_text = secret_get_text;
	buffer_class->get_length = secret_get_length;
	buffer_class->insert_text = secret_insert_text;
	buffer_class->delete_text = secret_delete_text;
}

GtkEntryBuffer *
picker_secret_buffer_new(void)
{
	return g_object_new(PICKER_TYPE_SECRET_BUFFER, NULL);
}

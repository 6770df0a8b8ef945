/* A GtkEntryBuffer for passphrases: one fixed block, locked in memory when
 * the system allows it, and wiped whenever text leaves it and when the
 * buffer is freed. */
#pragma once

#include <gtk/gtk.h>

/* Bytes a passphrase may take, NUL included: PEM_BUFSIZE (1024, from
 * openssl/pem.h), the passphrase buffer size that OpenSSL itself uses, for
 * example in its PKCS #8 key encoder. */
#define PICKER_SECRET_MAX 1024

#define PICKER_TYPE_SECRET_BUFFER (picker_secret_buffer_get_type())
G_DECLARE_FINAL_TYPE(PickerSecretBuffer, picker_secret_buffer, PICKER,
		     SECRET_BUFFER, GtkEntryBuffer)

GtkEntryBuffer *picker_secret_buffer_new(void);

/* Fuzz target for import (daemon/import.c): PEM bundles with a BOM or CRLF
 * line ends and blocks in any order, DER certificates and keys, PKCS #12
 * files, and a separate key file. The input is the imported file; a line
 * "--certpick-fuzz-key--" splits off the rest as the --key file. The
 * password callback gives the test PKI's passwords in turn, then the empty
 * one. An identity that import accepts must then be in the store with a
 * usable key, and describable as JSON.
 *
 * The fuzz build encrypts keys at rest with few PBKDF2 iterations
 * (CP_STORE_PBKDF2_ITERATIONS), so that an input takes milliseconds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz-support.h"
#include "store-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY_SEPARATOR "\n--certpick-fuzz-key--\n"

/* The passwords of tests/pki/make-pki.sh, then the empty one. */
static const char *const passwords[] = {
	"correct horse battery staple",
	"pässwörd-ünïcödé",
	"",
};

static int
answer_password(char *buffer, size_t size, const char *prompt, void *arg)
{
	size_t *given = arg;
	const char *password;
	size_t len;

	if (*given >= sizeof(passwords) / sizeof(*passwords))
		return -1;
	password = passwords[(*given)++];
	len = strlen(password);
	if (len >= size)
		return -1;
	memcpy(buffer, password, len + 1);
	return (int)len;
}

static struct cp_store *store;
static char store_dir[4096];

static void
open_store(void)
{
	char err[512];

	if (store)
		return;
	snprintf(store_dir, sizeof(store_dir), "%s", fuzz_temp_path("store"));
	if (cp_store_open(store_dir, &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
}

static void
check_imported(const char *id)
{
	struct cp_identity *identity = cp_store_find(store, id);
	json_t *object;

	if (!identity) {
		fprintf(stderr,
			"import accepted %s, but the store did not "
			"load it\n",
			id);
		abort();
	}
	if (!cp_identity_key_available(identity)) {
		fprintf(stderr, "import accepted %s without its key\n", id);
		abort();
	}
	object = cp_identity_to_json(identity, CP_JSON_IDENTITY);
	if (!object) {
		fprintf(stderr, "identity %s cannot be described as JSON\n",
			id);
		abort();
	}
	json_decref(object);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *split =
		memmem(data, size, KEY_SEPARATOR, strlen(KEY_SEPARATOR));
	size_t given = 0;
	struct cp_import_options options = {
		.ask_password = answer_password,
		.ask_password_arg = &given,
	};
	char id[CP_IDENTITY_ID_SIZE], err[1024], file[4096], key_file[4096];
	bool already_present = false;

	open_store();
	if (split) {
		size_t offset = (size_t)(split - data) + strlen(KEY_SEPARATOR);

		snprintf(key_file, sizeof(key_file), "%s",
			 fuzz_write_file("key", data + offset, size - offset));
		options.key_file = key_file;
		size = (size_t)(split - data);
	}
	snprintf(file, sizeof(file), "%s",
		 fuzz_write_file("input", data, size));

	if (cp_store_import(store, file, &options, id, &already_present, err,
			    sizeof(err)) == 0) {
		if (already_present)
			abort(); /* the store is empty before each input */
		check_imported(id);
	}
	ERR_clear_error();

	fuzz_empty_dir(store_dir);
	if (cp_store_reload(store, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return 0;
}

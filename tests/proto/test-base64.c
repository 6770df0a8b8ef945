/* Strict base64: the RFC 4648 test vectors, rejected forms, and round trips
 * of every length up to a few blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct {
	const char *plain;
	const char *encoded;
} vectors[] = {
	/* RFC 4648, section 10. */
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void
rfc4648_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *plain = vectors[i].plain;
		char *encoded =
			cp_base64_encode((const uint8_t *)plain, strlen(plain));
		uint8_t *decoded;
		size_t len;

		assert_string_equal(encoded, vectors[i].encoded);
		assert_int_equal(cp_base64_decode(encoded, strlen(encoded),
						  &decoded, &len),
				 0);
		assert_int_equal(len, strlen(plain));
		assert_memory_equal(decoded, plain, len);
		free(encoded);
		free(decoded);
	}
}

static void
invalid_forms_rejected(void **state)
{
	static const char *const cases[] = {
		"Zg",	    /* no padding */
		"Zg=",	    /* short padding */
		"Z===",	    /* too much padding */
		"Zm9v\n",   /* whitespace */
		"Zm 9",	    /* whitespace inside */
		"Zm9-",	    /* URL-safe alphabet */
		"Zg==Zg==", /* padding before the end */
		"Zh==",	    /* non-zero bits after the data */
		"Zm9=",	    /* same, one padding character */
		"=Zm9",	    /* padding first */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *decoded = (uint8_t *)"unchanged";
		size_t len = 99;

		assert_int_equal(cp_base64_decode(cases[i], strlen(cases[i]),
						  &decoded, &len),
				 -1);
		assert_null(decoded);
		assert_int_equal(len, 0);
	}
}

static void
round_trip_every_length(void **state)
{
	uint8_t data[64];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(data); len++) {
		char *encoded = cp_base64_encode(data, len);
		uint8_t *decoded;
		size_t decoded_len;

		assert_int_equal(strlen(encoded), (len + 2) / 3 * 4);
		assert_int_equal(cp_base64_decode(encoded, strlen(encoded),
						  &decoded, &decoded_len),
				 0);
		assert_int_equal(decoded_len, len);
		assert_memory_equal(decoded, data, len);
		free(encoded);
		free(decoded);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors),
		cmocka_unit_test(invalid_forms_rejected),
		cmocka_unit_test(round_trip_every_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Varlink framing, decoding and encoding: split reads, several messages
 * per read, size and depth limits, invalid UTF-8 and JSON, embedded NUL
 * bytes, the encoder against jansson's, and the libevent adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "varlink-event.h"
#include "varlink.h"

/* Three messages back to back, with a multi-byte character in one. */
static const char stream[] =
	"{\"method\":\"org.certpick.Agent.ListIdentities\"}\0"
	"{\"parameters\":{\"label\":\"J\xc3\xbcrgen\"}}\0"
	"{\"error\":\"org.certpick.Agent.TimedOut\",\"parameters\":"
	"{\"seconds\":120}}";
/* sizeof counts the implicit NUL that ends the third message. */
#define STREAM_LEN sizeof(stream)

/* Feeds data in two pieces split at `split` and returns how many messages
 * came out, checking each against the expected order. */
static int
feed_split(size_t split)
{
	struct vl_reader reader = {0};
	json_t *msg;
	int count = 0;
	size_t pieces[2][2] = {{0, split}, {split, STREAM_LEN - split}};

	for (int p = 0; p < 2; p++) {
		assert_int_equal(vl_reader_feed(&reader, stream + pieces[p][0],
						pieces[p][1]),
				 VL_OK);
		while (vl_reader_next(&reader, &msg) == 1) {
			switch (count) {
			case 0:
				assert_non_null(json_object_get(msg, "method"));
				break;
			case 1:
				assert_string_equal(
					json_string_value(json_object_get(
						json_object_get(msg,
								"parameters"),
						"label")),
					"J\xc3\xbcrgen");
				break;
			case 2:
				assert_non_null(json_object_get(msg, "error"));
				break;
			}
			count++;
			json_decref(msg);
		}
	}
	assert_false(vl_reader_has_partial(&reader));
	vl_reader_clear(&reader);
	return count;
}

static void
split_at_every_byte(void **state)
{
	for (size_t split = 0; split <= STREAM_LEN; split++)
		assert_int_equal(feed_split(split), 3);
}

static void
one_byte_per_read(void **state)
{
	struct vl_reader reader = {0};
	json_t *msg;
	int count = 0;

	for (size_t i = 0; i < STREAM_LEN; i++) {
		assert_int_equal(vl_reader_feed(&reader, stream + i, 1), VL_OK);
		while (vl_reader_next(&reader, &msg) == 1) {
			count++;
			json_decref(msg);
		}
	}
	assert_int_equal(count, 3);
	vl_reader_clear(&reader);
}

static void
message_without_nul_stays_partial(void **state)
{
	struct vl_reader reader = {0};
	json_t *msg;

	assert_int_equal(vl_reader_feed(&reader, "{\"method\":\"a.B\"}", 16),
			 VL_OK);
	assert_int_equal(vl_reader_next(&reader, &msg), 0);
	assert_null(msg);
	assert_true(vl_reader_has_partial(&reader));
	vl_reader_clear(&reader);
}

/* Builds {"a":"xxx..."} of exactly len bytes, without a NUL. */
static char *
object_of_length(size_t len)
{
	char *text = malloc(len + 1);

	assert_non_null(text);
	assert_true(len >= 8);
	memcpy(text, "{\"a\":\"", 6);
	memset(text + 6, 'x', len - 8);
	memcpy(text + len - 2, "\"}", 2);
	text[len] = '\0';
	return text;
}

static void
largest_message_accepted(void **state)
{
	struct vl_reader reader = {0};
	size_t len = VL_MESSAGE_MAX - 1;
	char *text = object_of_length(len);
	json_t *msg;

	/* With its NUL the message is exactly VL_MESSAGE_MAX bytes. */
	assert_int_equal(vl_reader_feed(&reader, text, len + 1), VL_OK);
	assert_int_equal(vl_reader_next(&reader, &msg), 1);
	assert_non_null(msg);
	json_decref(msg);
	vl_reader_clear(&reader);
	free(text);
}

static void
oversized_message_rejected_before_growth(void **state)
{
	struct vl_reader reader = {0};
	size_t len = VL_MESSAGE_MAX;
	char *text = object_of_length(len);
	size_t fed = 0;
	int r = VL_OK;

	/* Fed in 64 KiB pieces, as from a socket: the reader must stop
	 * before it holds VL_MESSAGE_MAX bytes of one message. */
	while (fed < len && r == VL_OK) {
		size_t piece = len - fed < 65536 ? len - fed : 65536;

		r = vl_reader_feed(&reader, text + fed, piece);
		if (r == VL_OK)
			fed += piece;
	}
	assert_int_equal(r, VL_E_TOO_LARGE);
	assert_true(reader.len < VL_MESSAGE_MAX);
	vl_reader_clear(&reader);
	free(text);
}

static void
oversized_single_read_rejected(void **state)
{
	struct vl_reader reader = {0};
	size_t len = VL_MESSAGE_MAX + 10;
	char *text = object_of_length(len);

	assert_int_equal(vl_reader_feed(&reader, text, len + 1),
			 VL_E_TOO_LARGE);
	assert_int_equal(reader.len, 0);
	vl_reader_clear(&reader);
	free(text);
}

static int
decode_string(const char *text, size_t len)
{
	json_t *msg;
	int r = vl_message_decode(text, len, &msg);

	json_decref(msg);
	return r;
}

static void
invalid_utf8_rejected(void **state)
{
	static const char *const cases[] = {
		"{\"a\":\"\xc0\xaf\"}",		/* overlong '/' */
		"{\"a\":\"\xe0\x80\xaf\"}",	/* overlong, 3 bytes */
		"{\"a\":\"\xed\xa0\x80\"}",	/* UTF-16 surrogate */
		"{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
		"{\"a\":\"\xc3\"}",		/* truncated sequence */
		"{\"a\":\"\x80\"}",		/* lone continuation */
		"{\"a\":\"\xff\"}",		/* never valid */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(decode_string(cases[i], strlen(cases[i])),
				 VL_E_UTF8);
}

/* The check reads eight ASCII bytes at a time, so the position of a
 * multi-byte sequence within those eight must not matter. */
static void
utf8_checked_at_every_offset(void **state)
{
	for (size_t offset = 0; offset < 24; offset++) {
		char text[64];
		int len;

		len = snprintf(text, sizeof(text), "{\"a\":\"%.*s\xc3\xbc\"}",
			       (int)offset, "xxxxxxxxxxxxxxxxxxxxxxxx");
		assert_int_equal(decode_string(text, (size_t)len), VL_OK);
		len = snprintf(text, sizeof(text), "{\"a\":\"%.*s\xc3\"}",
			       (int)offset, "xxxxxxxxxxxxxxxxxxxxxxxx");
		assert_int_equal(decode_string(text, (size_t)len), VL_E_UTF8);
		len = snprintf(text, sizeof(text),
			       "{\"a\":\"%.*s\xed\xa0\x80x\"}", (int)offset,
			       "xxxxxxxxxxxxxxxxxxxxxxxx");
		assert_int_equal(decode_string(text, (size_t)len), VL_E_UTF8);
	}
}

static void
valid_utf8_accepted(void **state)
{
	static const char text[] =
		"{\"a\":\"\xc3\xbc \xe2\x80\x93 \xe8\xa8\xbc \xf0\x9f\x94\x92\"}";

	assert_int_equal(decode_string(text, strlen(text)), VL_OK);
}

static void
invalid_json_rejected(void **state)
{
	static const char *const cases[] = {
		"{",
		"{\"a\":}",
		"{\"a\":1,}",
		"{'a':1}",
		"{\"a\":\"\\u0000\"}", /* NUL inside a string */
		"{\"a\":1,\"a\":2}",   /* duplicate key */
		"{\"a\":1} trailing",
		"",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(decode_string(cases[i], strlen(cases[i])),
				 VL_E_JSON);
}

static void
non_object_rejected(void **state)
{
	static const char *const cases[] = {"[1]", "\"x\"", "1", "null",
					    "true"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(decode_string(cases[i], strlen(cases[i])),
				 VL_E_NOT_OBJECT);
}

/* Returns {"a":[[[...]]]} with `depth` levels in all. */
static char *
nested(int depth)
{
	char *text = malloc((size_t)depth * 2 + 16);
	size_t n = 5;

	assert_non_null(text);
	memcpy(text, "{\"a\":", n);
	for (int i = 1; i < depth; i++)
		text[n++] = '[';
	for (int i = 1; i < depth; i++)
		text[n++] = ']';
	text[n++] = '}';
	text[n] = '\0';
	return text;
}

static void
nesting_bound(void **state)
{
	char *ok = nested(VL_DEPTH_MAX);
	char *deep = nested(VL_DEPTH_MAX + 1);
	char *very_deep = nested(100000);

	assert_int_equal(decode_string(ok, strlen(ok)), VL_OK);
	assert_int_equal(decode_string(deep, strlen(deep)), VL_E_DEPTH);
	assert_int_equal(decode_string(very_deep, strlen(very_deep)),
			 VL_E_DEPTH);
	free(ok);
	free(deep);
	free(very_deep);
}

static void
brackets_in_strings_do_not_count(void **state)
{
	char text[256];
	size_t n = (size_t)snprintf(text, sizeof(text), "{\"a\":\"");

	for (int i = 0; i < VL_DEPTH_MAX + 10; i++)
		text[n++] = '[';
	/* An escaped quote must not end the string early. */
	n += (size_t)sprintf(text + n, "\\\"[[\"}");
	assert_int_equal(decode_string(text, n), VL_OK);
}

static void
embedded_nul_splits_message(void **state)
{
	static const char text[] = "{\"a\":\"b\0c\"}";
	struct vl_reader reader = {0};
	json_t *msg;

	assert_int_equal(vl_reader_feed(&reader, text, sizeof(text)), VL_OK);
	assert_int_equal(vl_reader_next(&reader, &msg), VL_E_JSON);
	assert_int_equal(vl_reader_next(&reader, &msg), VL_E_JSON);
	assert_int_equal(vl_reader_next(&reader, &msg), 0);
	vl_reader_clear(&reader);
}

static json_t *
load(const char *text)
{
	json_t *msg;

	assert_int_equal(vl_message_decode(text, strlen(text), &msg), VL_OK);
	return msg;
}

static void
call_fields_checked(void **state)
{
	static const struct {
		const char *text;
		int expected;
	} cases[] = {
		{"{\"method\":\"a.B\"}", VL_OK},
		{"{\"method\":\"a.B\",\"parameters\":{}}", VL_OK},
		{"{\"method\":\"a.B\",\"more\":true}", VL_OK},
		{"{\"method\":\"a.B\",\"oneway\":true}", VL_OK},
		{"{}", VL_E_NOT_CALL},
		{"{\"method\":1}", VL_E_NOT_CALL},
		{"{\"method\":\"\"}", VL_E_NOT_CALL},
		{"{\"method\":\"a.B\",\"parameters\":[]}", VL_E_NOT_CALL},
		{"{\"method\":\"a.B\",\"more\":\"yes\"}", VL_E_NOT_CALL},
		{"{\"method\":\"a.B\",\"more\":true,\"oneway\":true}",
		 VL_E_NOT_CALL},
		{"{\"method\":\"a.B\",\"upgrade\":true}", VL_E_NOT_CALL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *msg = load(cases[i].text);
		struct vl_call call;

		assert_int_equal(vl_message_to_call(msg, &call),
				 cases[i].expected);
		if (cases[i].expected == VL_OK)
			assert_true(json_is_object(call.parameters));
		json_decref(msg);
	}
}

static void
call_flags_read(void **state)
{
	json_t *msg = load("{\"method\":\"a.B\",\"more\":true}");
	struct vl_call call;

	assert_int_equal(vl_message_to_call(msg, &call), VL_OK);
	assert_string_equal(call.method, "a.B");
	assert_int_equal(call.flags, VL_CALL_MORE);
	json_decref(msg);
}

static void
reply_fields_checked(void **state)
{
	json_t *ok = load("{\"parameters\":{\"x\":1},\"continues\":true}");
	json_t *error = load("{\"error\":\"a.B\"}");
	json_t *bad = load("{\"error\":5}");
	struct vl_reply reply;

	assert_int_equal(vl_message_to_reply(ok, &reply), VL_OK);
	assert_null(reply.error);
	assert_true(reply.continues);
	assert_int_equal(vl_message_to_reply(error, &reply), VL_OK);
	assert_string_equal(reply.error, "a.B");
	assert_int_equal(json_object_size(reply.parameters), 0);
	assert_int_equal(vl_message_to_reply(bad, &reply), VL_E_NOT_REPLY);
	json_decref(ok);
	json_decref(error);
	json_decref(bad);
}

static void
encode_round_trip(void **state)
{
	json_t *call = vl_call_new(
		"org.certpick.Agent.Select",
		json_pack("{s:s,s:i}", "host", "localhost", "port", 443),
		VL_CALL_MORE);
	struct vl_reader reader = {0};
	struct vl_call decoded;
	json_t *msg;
	size_t len;
	char *buffer = vl_message_encode(call, &len);

	assert_non_null(buffer);
	assert_int_equal(buffer[len - 1], '\0');
	assert_null(memchr(buffer, '\0', len - 1));
	assert_int_equal(vl_reader_feed(&reader, buffer, len), VL_OK);
	assert_int_equal(vl_reader_next(&reader, &msg), 1);
	assert_int_equal(vl_message_to_call(msg, &decoded), VL_OK);
	assert_string_equal(decoded.method, "org.certpick.Agent.Select");
	assert_int_equal(decoded.flags, VL_CALL_MORE);
	assert_int_equal(
		json_integer_value(json_object_get(decoded.parameters, "port")),
		443);
	json_decref(msg);
	json_decref(call);
	vl_buffer_free(buffer, len);
	vl_reader_clear(&reader);
}

/* Checks that vl_message_encode writes what json_dumpb writes. */
static void
assert_encodes_like_jansson(const json_t *msg)
{
	size_t expected_len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	char *expected = malloc(expected_len + 1);
	size_t len;
	char *buffer;

	assert_non_null(expected);
	assert_int_equal(json_dumpb(msg, expected, expected_len, JSON_COMPACT),
			 expected_len);
	buffer = vl_message_encode(msg, &len);
	assert_non_null(buffer);
	assert_int_equal(len, expected_len + 1);
	assert_memory_equal(buffer, expected, expected_len);
	assert_int_equal(buffer[expected_len], '\0');
	vl_buffer_free(buffer, len);
	free(expected);
}

static void
encode_matches_jansson(void **state)
{
	char every_ascii[128];
	json_t *msg, *nested;

	for (int c = 0; c < 128; c++)
		every_ascii[c] = (char)c;
	msg = json_pack("{s:s%, s:s, s:s, s:I, s:I, s:i, s:f, s:f, s:b, s:b, "
			"s:n, s:[], s:{}, s:[i, s, [n, {}], {s:[]}]}",
			"ascii", every_ascii, sizeof(every_ascii), "utf8",
			"J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x92",
			"escapes", "quote \" backslash \\ slash /", "big",
			(json_int_t)INT64_MAX, "small", (json_int_t)INT64_MIN,
			"zero", 0, "real", 0.1, "whole", 3.0, "true", 1,
			"false", 0, "null", "empty_array", "empty_object",
			"mixed", -1, "", "x");
	assert_non_null(msg);
	assert_encodes_like_jansson(msg);

	/* Keys are escaped like values. */
	assert_int_equal(
		json_object_set_new(msg, "key \"\n\t\x01", json_true()), 0);
	assert_encodes_like_jansson(msg);

	/* Larger than the first allocation, so the buffer grows. */
	nested = json_array();
	for (int i = 0; i < 2000; i++)
		json_array_append_new(nested, json_string("certificate\n"));
	json_object_set_new(msg, "long", nested);
	assert_encodes_like_jansson(msg);
	json_decref(msg);
}

static void
encode_rejects_invalid_utf8(void **state)
{
	json_t *msg = json_pack("{s:o}", "label",
				json_stringn_nocheck("bad \xff byte", 10));
	size_t len = 1;

	assert_non_null(msg);
	assert_null(vl_message_encode(msg, &len));
	assert_int_equal(len, 0);
	json_decref(msg);
}

/* {"a":"xx...x"} and its NUL take the string's length plus 9 bytes. */
static void
encode_size_limit(void **state)
{
	size_t fits = VL_MESSAGE_MAX - 9;
	char *text = malloc(fits + 2);
	json_t *msg;
	size_t len;
	char *buffer;

	assert_non_null(text);
	memset(text, 'x', fits + 1);
	msg = json_pack("{s:s%}", "a", text, fits);
	buffer = vl_message_encode(msg, &len);
	assert_non_null(buffer);
	assert_int_equal(len, VL_MESSAGE_MAX);
	vl_buffer_free(buffer, len);
	json_decref(msg);

	msg = json_pack("{s:s%}", "a", text, fits + 1);
	assert_null(vl_message_encode(msg, &len));
	json_decref(msg);
	free(text);
}

/* The encoder accepts the nesting that the decoder accepts. */
static void
encode_depth_limit(void **state)
{
	json_t *msg = json_object();
	json_t *inner = msg;
	size_t len;
	char *buffer;

	for (int depth = 1; depth < VL_DEPTH_MAX; depth++) {
		json_t *child = json_array();

		if (json_is_object(inner))
			json_object_set_new(inner, "a", child);
		else
			json_array_append_new(inner, child);
		inner = child;
	}
	buffer = vl_message_encode(msg, &len);
	assert_non_null(buffer);
	vl_buffer_free(buffer, len);

	json_array_append_new(inner, json_array());
	assert_null(vl_message_encode(msg, &len));
	json_decref(msg);
}

static void
evbuffer_split_at_every_byte(void **state)
{
	for (size_t split = 0; split <= STREAM_LEN; split++) {
		struct evbuffer *input = evbuffer_new();
		json_t *msg;
		int count = 0;

		assert_non_null(input);
		evbuffer_add(input, stream, split);
		while (vl_evbuffer_next(input, &msg) == 1) {
			count++;
			json_decref(msg);
		}
		evbuffer_add(input, stream + split, STREAM_LEN - split);
		while (vl_evbuffer_next(input, &msg) == 1) {
			count++;
			json_decref(msg);
		}
		assert_int_equal(count, 3);
		assert_int_equal(evbuffer_get_length(input), 0);
		evbuffer_free(input);
	}
}

/* Byte by byte, the scan position covers what is buffered until a message
 * is complete, and the three messages come out in order. */
static void
evbuffer_scan_one_byte_per_read(void **state)
{
	struct evbuffer *input = evbuffer_new();
	size_t scanned = 0;
	int count = 0;

	assert_non_null(input);
	for (size_t i = 0; i < STREAM_LEN; i++) {
		json_t *msg;
		int r;

		evbuffer_add(input, stream + i, 1);
		r = vl_evbuffer_next_scan(input, &scanned, &msg);
		if (stream[i] == '\0') {
			assert_int_equal(r, 1);
			assert_int_equal(scanned, 0);
			assert_int_equal(evbuffer_get_length(input), 0);
			json_decref(msg);
			count++;
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(scanned, evbuffer_get_length(input));
		}
	}
	assert_int_equal(count, 3);
	evbuffer_free(input);
}

/* Reads what the socket holds, without waiting, onto the end of into. */
static void
read_available(int fd, struct evbuffer *into)
{
	char chunk[65536];
	ssize_t n;

	while ((n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
		evbuffer_add(into, chunk, (size_t)n);
}

/* Checks that received contains exactly the encoding of msg. */
static void
assert_holds_message(struct evbuffer *received, const json_t *msg)
{
	size_t len;
	char *expected = vl_message_encode(msg, &len);

	assert_non_null(expected);
	assert_int_equal(evbuffer_get_length(received), len);
	assert_memory_equal(evbuffer_pullup(received, -1), expected, len);
	vl_buffer_free(expected, len);
}

static void
evbuffer_send_writes_directly(void **state)
{
	struct evbuffer *output = evbuffer_new();
	struct evbuffer *received = evbuffer_new();
	json_t *reply = json_pack("{s:{s:s}}", "parameters", "id", "abc");
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(vl_evbuffer_send(output, fds[0], reply), 0);
	assert_int_equal(evbuffer_get_length(output), 0);
	read_available(fds[1], received);
	assert_holds_message(received, reply);

	json_decref(reply);
	evbuffer_free(received);
	evbuffer_free(output);
	close(fds[0]);
	close(fds[1]);
}

/* With bytes already queued, the message goes behind them. */
static void
evbuffer_send_keeps_order(void **state)
{
	struct evbuffer *output = evbuffer_new();
	struct evbuffer *received = evbuffer_new();
	json_t *reply = json_pack("{s:{}}", "parameters");
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	evbuffer_add(output, "queued", 6);
	assert_int_equal(vl_evbuffer_send(output, fds[0], reply), 0);
	read_available(fds[1], received);
	assert_int_equal(evbuffer_get_length(received), 0);
	assert_memory_equal(evbuffer_pullup(output, 6), "queued", 6);
	evbuffer_drain(output, 6);
	assert_holds_message(output, reply);

	json_decref(reply);
	evbuffer_free(received);
	evbuffer_free(output);
	close(fds[0]);
	close(fds[1]);
}

/* A message larger than the socket buffer: the rest waits in output. */
static void
evbuffer_send_queues_rest(void **state)
{
	struct evbuffer *output = evbuffer_new();
	struct evbuffer *received = evbuffer_new();
	char *text = malloc(512 * 1024);
	int size = 4096;
	json_t *reply;
	int fds[2];

	assert_non_null(text);
	memset(text, 'x', 512 * 1024);
	reply = json_pack("{s:{s:s%}}", "parameters", "data", text,
			  (size_t)512 * 1024);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(
		setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)),
		0);
	assert_int_equal(vl_evbuffer_send(output, fds[0], reply), 0);
	assert_true(evbuffer_get_length(output) > 0);
	read_available(fds[1], received);
	assert_true(evbuffer_get_length(received) > 0);
	evbuffer_add_buffer(received, output);
	assert_holds_message(received, reply);

	json_decref(reply);
	free(text);
	evbuffer_free(received);
	evbuffer_free(output);
	close(fds[0]);
	close(fds[1]);
}

/* A failed send leaves the whole message queued for the next write. */
static void
evbuffer_send_to_closed_peer(void **state)
{
	struct evbuffer *output = evbuffer_new();
	json_t *reply = json_pack("{s:{}}", "parameters");
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	close(fds[1]);
	assert_int_equal(vl_evbuffer_send(output, fds[0], reply), 0);
	assert_holds_message(output, reply);

	json_decref(reply);
	evbuffer_free(output);
	close(fds[0]);
}

static void
evbuffer_oversized_rejected(void **state)
{
	struct evbuffer *input = evbuffer_new();
	char *text = object_of_length(VL_MESSAGE_MAX);
	json_t *msg;

	evbuffer_add(input, text, VL_MESSAGE_MAX);
	assert_int_equal(vl_evbuffer_next(input, &msg), VL_E_TOO_LARGE);
	evbuffer_add(input, "", 1);
	assert_int_equal(vl_evbuffer_next(input, &msg), VL_E_TOO_LARGE);
	evbuffer_free(input);
	free(text);
}

static void
evbuffer_add_appends_nul(void **state)
{
	struct evbuffer *output = evbuffer_new();
	json_t *reply = vl_reply_new(NULL, false);
	json_t *msg;

	assert_int_equal(vl_evbuffer_add(output, reply), 0);
	assert_int_equal(vl_evbuffer_next(output, &msg), 1);
	assert_non_null(json_object_get(msg, "parameters"));
	json_decref(msg);
	json_decref(reply);
	evbuffer_free(output);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_at_every_byte),
		cmocka_unit_test(one_byte_per_read),
		cmocka_unit_test(message_without_nul_stays_partial),
		cmocka_unit_test(largest_message_accepted),
		cmocka_unit_test(oversized_message_rejected_before_growth),
		cmocka_unit_test(oversized_single_read_rejected),
		cmocka_unit_test(invalid_utf8_rejected),
		cmocka_unit_test(valid_utf8_accepted),
		cmocka_unit_test(utf8_checked_at_every_offset),
		cmocka_unit_test(invalid_json_rejected),
		cmocka_unit_test(non_object_rejected),
		cmocka_unit_test(nesting_bound),
		cmocka_unit_test(brackets_in_strings_do_not_count),
		cmocka_unit_test(embedded_nul_splits_message),
		cmocka_unit_test(call_fields_checked),
		cmocka_unit_test(call_flags_read),
		cmocka_unit_test(reply_fields_checked),
		cmocka_unit_test(encode_round_trip),
		cmocka_unit_test(encode_matches_jansson),
		cmocka_unit_test(encode_rejects_invalid_utf8),
		cmocka_unit_test(encode_size_limit),
		cmocka_unit_test(encode_depth_limit),
		cmocka_unit_test(evbuffer_split_at_every_byte),
		cmocka_unit_test(evbuffer_scan_one_byte_per_read),
		cmocka_unit_test(evbuffer_send_writes_directly),
		cmocka_unit_test(evbuffer_send_keeps_order),
		cmocka_unit_test(evbuffer_send_queues_rest),
		cmocka_unit_test(evbuffer_send_to_closed_peer),
		cmocka_unit_test(evbuffer_oversized_rejected),
		cmocka_unit_test(evbuffer_add_appends_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

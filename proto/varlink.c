/* Varlink framing, decoding and encoding on plain byte buffers. */
#include "varlink.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

const char *
vl_status_string(int status)
{
	switch (status) {
	case VL_OK:
		return "success";
	case VL_E_TOO_LARGE:
		return "message larger than the maximum of 1 MiB";
	case VL_E_UTF8:
		return "message is not valid UTF-8";
	case VL_E_JSON:
		return "message is not valid JSON";
	case VL_E_NOT_OBJECT:
		return "message is not a JSON object";
	case VL_E_DEPTH:
		return "message nests arrays or objects too deeply";
	case VL_E_NO_MEMORY:
		return "out of memory";
	case VL_E_NOT_CALL:
		return "message is not a valid Varlink call";
	case VL_E_NOT_REPLY:
		return "message is not a valid Varlink reply";
	}
	return "unknown error";
}

/* Returns the length of the multi-byte UTF-8 sequence at s (whose first
 * byte is 0x80 or above) within len bytes, or 0 when it is not valid:
 * overlong, a surrogate, above U+10FFFF or cut short. */
static size_t
utf8_sequence_length(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len - 1 < n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond Unicode. */
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp > 0x10ffff)
		return 0;
	return n + 1;
}

bool
vl_utf8_valid(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		uint64_t word;
		size_t n;

		/* Eight ASCII bytes at a time: messages are mostly ASCII. */
		if (len - i >= sizeof(word)) {
			memcpy(&word, s + i, sizeof(word));
			if (!(word & UINT64_C(0x8080808080808080))) {
				i += sizeof(word);
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_sequence_length(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Checks the nesting depth without recursion, skipping string contents. */
static bool
depth_within_bound(const char *data, size_t len)
{
	int depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > VL_DEPTH_MAX)
				return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

int
vl_message_decode(const char *data, size_t len, json_t **out)
{
	json_error_t error;
	json_t *msg;

	*out = NULL;
	if (len >= VL_MESSAGE_MAX)
		return VL_E_TOO_LARGE;
	if (!vl_utf8_valid(data, len))
		return VL_E_UTF8;
	if (!depth_within_bound(data, len))
		return VL_E_DEPTH;

	/* Duplicate keys are rejected so that two readers of one message
	 * cannot disagree on which value counts. */
	msg = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &error);
	if (!msg)
		return VL_E_JSON;
	if (!json_is_object(msg)) {
		json_decref(msg);
		return VL_E_NOT_OBJECT;
	}
	*out = msg;
	return VL_OK;
}

/* Returns the "parameters" member, adding an empty object to msg when it is
 * absent or null. A member of another type is an error (NULL). */
static json_t *
message_parameters(json_t *msg)
{
	json_t *parameters = json_object_get(msg, "parameters");

	if (!parameters || json_is_null(parameters)) {
		parameters = json_object();
		if (json_object_set_new(msg, "parameters", parameters) < 0)
			return NULL;
		return parameters;
	}
	if (!json_is_object(parameters))
		return NULL;
	return parameters;
}

static bool
optional_bool(json_t *msg, const char *key, bool *value)
{
	json_t *member = json_object_get(msg, key);

	*value = false;
	if (!member || json_is_null(member))
		return true;
	if (!json_is_boolean(member))
		return false;
	*value = json_is_true(member);
	return true;
}

int
vl_message_to_call(json_t *msg, struct vl_call *call)
{
	json_t *method = json_object_get(msg, "method");
	bool oneway, more, upgrade;

	memset(call, 0, sizeof(*call));
	if (!json_is_string(method) || json_string_length(method) == 0)
		return VL_E_NOT_CALL;
	call->parameters = message_parameters(msg);
	if (!call->parameters)
		return VL_E_NOT_CALL;
	if (!optional_bool(msg, "oneway", &oneway) ||
	    !optional_bool(msg, "more", &more) ||
	    !optional_bool(msg, "upgrade", &upgrade))
		return VL_E_NOT_CALL;

	/* Connection upgrades hand the socket to another protocol, which no
	 * certpick interface offers. */
	if (upgrade || (oneway && more))
		return VL_E_NOT_CALL;

	call->method = json_string_value(method);
	call->flags = (oneway ? VL_CALL_ONEWAY : 0) | (more ? VL_CALL_MORE : 0);
	return VL_OK;
}

const char *
vl_call_problem(const json_t *msg)
{
	const json_t *method = json_object_get(msg, "method");
	const json_t *parameters = json_object_get(msg, "parameters");
	static const char *const flags[] = {"oneway", "more", "upgrade"};

	if (!method)
		return "\"method\" is missing";
	if (!json_is_string(method) || json_string_length(method) == 0)
		return "\"method\" is not a non-empty string";
	if (parameters && !json_is_null(parameters) &&
	    !json_is_object(parameters))
		return "\"parameters\" is not an object";
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const json_t *flag = json_object_get(msg, flags[i]);

		if (flag && !json_is_boolean(flag) && !json_is_null(flag))
			return "\"oneway\", \"more\" or \"upgrade\" is not "
			       "a boolean";
	}
	if (json_is_true(json_object_get(msg, "upgrade")))
		return "it asks for a connection upgrade, which certpick does "
		       "not offer";
	if (json_is_true(json_object_get(msg, "oneway")) &&
	    json_is_true(json_object_get(msg, "more")))
		return "it sets both \"oneway\" and \"more\", which exclude "
		       "each other";
	return NULL;
}

int
vl_message_to_reply(json_t *msg, struct vl_reply *reply)
{
	json_t *error = json_object_get(msg, "error");

	memset(reply, 0, sizeof(*reply));
	if (error && !json_is_null(error)) {
		if (!json_is_string(error) || json_string_length(error) == 0)
			return VL_E_NOT_REPLY;
		reply->error = json_string_value(error);
	}
	reply->parameters = message_parameters(msg);
	if (!reply->parameters)
		return VL_E_NOT_REPLY;
	if (!optional_bool(msg, "continues", &reply->continues))
		return VL_E_NOT_REPLY;
	return VL_OK;
}

static json_t *
message_new(const char *key, const char *name, json_t *parameters)
{
	json_t *msg = json_object();

	if (!parameters)
		parameters = json_object();
	if (!msg || !parameters)
		goto fail;
	if (key && json_object_set_new(msg, key, json_string(name)) < 0)
		goto fail;
	if (json_object_set_new(msg, "parameters", parameters) < 0) {
		parameters = NULL;
		goto fail;
	}
	return msg;

fail:
	json_decref(parameters);
	json_decref(msg);
	return NULL;
}

json_t *
vl_call_new(const char *method, json_t *parameters, unsigned flags)
{
	json_t *msg = message_new("method", method, parameters);

	if (!msg)
		return NULL;
	if ((flags & VL_CALL_ONEWAY) &&
	    json_object_set_new(msg, "oneway", json_true()) < 0)
		goto fail;
	if ((flags & VL_CALL_MORE) &&
	    json_object_set_new(msg, "more", json_true()) < 0)
		goto fail;
	return msg;

fail:
	json_decref(msg);
	return NULL;
}

json_t *
vl_reply_new(json_t *parameters, bool continues)
{
	json_t *msg = message_new(NULL, NULL, parameters);

	if (msg && continues &&
	    json_object_set_new(msg, "continues", json_true()) < 0) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *
vl_error_new(const char *error, json_t *parameters)
{
	return message_new("error", error, parameters);
}

/* The output of vl_message_encode while jansson writes it. */
struct encode_buffer {
	char *data;
	size_t len;
	size_t cap;
	bool too_large;
};

static int
encode_append(const char *bytes, size_t size, void *arg)
{
	struct encode_buffer *b = arg;
	size_t cap;
	char *grown;

	/* Keep room for the NUL; stop at the message bound. */
	if (size >= VL_MESSAGE_MAX - b->len) {
		b->too_large = true;
		return -1;
	}
	if (b->len + size + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + size + 1)
			cap *= 2;
		grown = malloc(cap);
		if (!grown)
			return -1;
		if (b->len)
			memcpy(grown, b->data, b->len);
		vl_buffer_free(b->data, b->cap);
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, size);
	b->len += size;
	return 0;
}

/* Returns true when value nests at most levels deep, counting itself. */
static bool
value_depth_within(const json_t *value, int levels)
{
	const char *key;
	json_t *member;
	size_t i;

	if (!json_is_object(value) && !json_is_array(value))
		return true;
	if (levels <= 0)
		return false;
	if (json_is_array(value)) {
		json_array_foreach(value, i, member) if (
			!value_depth_within(member, levels - 1)) return false;
		return true;
	}
	json_object_foreach(
		(json_t *)value, key,
		member) if (!value_depth_within(member,
						levels - 1)) return false;
	return true;
}

char *
vl_message_encode(const json_t *msg, size_t *len)
{
	struct encode_buffer b = {0};

	/* One pass into a growing buffer: asking jansson for the size first
	 * would encode every message twice. */
	*len = 0;

	/* A peer would reject what nests deeper than VL_DEPTH_MAX. */
	if (!value_depth_within(msg, VL_DEPTH_MAX)) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (json_dump_callback(msg, encode_append, &b, JSON_COMPACT) < 0 ||
	    b.len == 0) {
		vl_buffer_free(b.data, b.cap);
		errno = b.too_large ? EMSGSIZE : ENOMEM;
		return NULL;
	}
	b.data[b.len] = '\0';
	*len = b.len + 1;
	return b.data;
}

void
vl_buffer_free(char *buffer, size_t len)
{
	if (!buffer)
		return;
	OPENSSL_cleanse(buffer, len);
	free(buffer);
}

/* Each block carries its size in front of it, so that the free function
 * knows how much to wipe. */
struct wiped_block {
	size_t size;
	max_align_t data[];
};

static void *
wiping_malloc(size_t size)
{
	struct wiped_block *block;

	if (size > SIZE_MAX - sizeof(*block))
		return NULL;
	block = malloc(sizeof(*block) + size);
	if (!block)
		return NULL;
	block->size = size;
	return block->data;
}

static void
wiping_free(void *ptr)
{
	struct wiped_block *block;

	if (!ptr)
		return;
	block = (struct wiped_block *)((char *)ptr -
				       offsetof(struct wiped_block, data));
	OPENSSL_cleanse(block->data, block->size);
	free(block);
}

void
vl_json_use_wiping_allocator(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
}

int
vl_reader_feed(struct vl_reader *reader, const void *data, size_t len)
{
	const char *first_nul, *last_nul;
	size_t head, tail, need;

	if (len == 0)
		return VL_OK;

	/* Check the size of every message that these bytes end or start
	 * before growing the buffer for them. Messages wholly inside data
	 * are bounded by len, and vl_reader_next checks them. */
	first_nul = memchr(data, '\0', len);
	head = first_nul ? (size_t)(first_nul - (const char *)data) : len;
	if (reader->len >= VL_MESSAGE_MAX ||
	    head >= VL_MESSAGE_MAX - reader->len)
		return VL_E_TOO_LARGE;
	if (first_nul) {
		last_nul = memrchr(data, '\0', len);
		tail = len - (size_t)(last_nul - (const char *)data) - 1;
		if (tail >= VL_MESSAGE_MAX)
			return VL_E_TOO_LARGE;
	}

	need = reader->len + len;
	if (need > reader->cap) {
		size_t cap = reader->cap ? reader->cap : 4096;
		char *grown;

		while (cap < need)
			cap *= 2;
		grown = malloc(cap);
		if (!grown)
			return VL_E_NO_MEMORY;
		if (reader->len)
			memcpy(grown, reader->data, reader->len);
		if (reader->data) {
			OPENSSL_cleanse(reader->data, reader->cap);
			free(reader->data);
		}
		reader->data = grown;
		reader->cap = cap;
	}
	memcpy(reader->data + reader->len, data, len);
	reader->len += len;
	return VL_OK;
}

int
vl_reader_next(struct vl_reader *reader, json_t **out)
{
	char *nul;
	size_t frame;
	int r;

	*out = NULL;
	if (reader->len == reader->scanned)
		return 0;
	nul = memchr(reader->data + reader->scanned, '\0',
		     reader->len - reader->scanned);
	if (!nul) {
		reader->scanned = reader->len;
		return reader->len >= VL_MESSAGE_MAX ? VL_E_TOO_LARGE : 0;
	}

	frame = (size_t)(nul - reader->data);
	r = vl_message_decode(reader->data, frame, out);

	/* Consume the frame whether or not it decoded, and wipe both the
	 * frame and the stale copy that moving the rest leaves behind. */
	OPENSSL_cleanse(reader->data, frame + 1);
	memmove(reader->data, nul + 1, reader->len - frame - 1);
	OPENSSL_cleanse(reader->data + reader->len - frame - 1, frame + 1);
	reader->len -= frame + 1;
	reader->scanned = 0;
	return r == VL_OK ? 1 : r;
}

bool
vl_reader_has_partial(const struct vl_reader *reader)
{
	return reader->len > 0;
}

void
vl_reader_clear(struct vl_reader *reader)
{
	if (reader->data) {
		OPENSSL_cleanse(reader->data, reader->cap);
		free(reader->data);
	}
	*reader = (struct vl_reader){0};
}

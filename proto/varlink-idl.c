/* A parser for the Varlink interface definition language and a checker of
 * JSON values against the parsed types. */
#include "varlink-idl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds for the definitions themselves. They are compiled into certpick,
 * but the parser is fuzzed, so it must not recurse without limit. */
#define IDL_DEPTH_MAX 16
#define IDL_NAME_MAX 256

enum type_kind {
	TYPE_BOOL,
	TYPE_INT,
	TYPE_FLOAT,
	TYPE_STRING,
	TYPE_OBJECT, /* any JSON value */
	TYPE_NAMED,  /* a type declared with "type" in this interface */
	TYPE_STRUCT,
	TYPE_ENUM,
	TYPE_ARRAY,
	TYPE_MAP, /* JSON object with string keys */
	TYPE_OPTIONAL,
};

struct field {
	char *name;
	struct type *type; /* NULL for enum values */
};

struct type {
	enum type_kind kind;
	char *name;	      /* TYPE_NAMED */
	struct type *element; /* TYPE_ARRAY, TYPE_MAP, TYPE_OPTIONAL */
	struct field *fields; /* TYPE_STRUCT, TYPE_ENUM */
	size_t n_fields;
};

enum member_kind {
	MEMBER_TYPE,
	MEMBER_METHOD,
	MEMBER_ERROR,
};

struct member {
	enum member_kind kind;
	char *name;
	struct type *input;  /* the type for MEMBER_TYPE */
	struct type *output; /* MEMBER_METHOD only */
};

struct vl_interface {
	char *name;
	char *description;
	struct member *members;
	size_t n_members;
};

struct parser {
	const char *text;
	size_t pos;
	int line;
	int depth;
	char *error;
	size_t error_size;
	bool failed;
};

static void
type_free(struct type *type)
{
	if (!type)
		return;
	free(type->name);
	type_free(type->element);
	for (size_t i = 0; i < type->n_fields; i++) {
		free(type->fields[i].name);
		type_free(type->fields[i].type);
	}
	free(type->fields);
	free(type);
}

void
vl_interface_free(struct vl_interface *interface)
{
	if (!interface)
		return;
	for (size_t i = 0; i < interface->n_members; i++) {
		free(interface->members[i].name);
		type_free(interface->members[i].input);
		type_free(interface->members[i].output);
	}
	free(interface->members);
	free(interface->name);
	free(interface->description);
	free(interface);
}

static void
parse_fail(struct parser *p, const char *fmt, ...)
{
	char message[200];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (p->error_size)
		snprintf(p->error, p->error_size, "line %d: %s", p->line,
			 message);
}

/* Skips blanks, newlines and comments. */
static void
skip_space(struct parser *p)
{
	for (;;) {
		char c = p->text[p->pos];

		if (c == '\n') {
			p->line++;
			p->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
		} else if (c == '#') {
			while (p->text[p->pos] && p->text[p->pos] != '\n')
				p->pos++;
		} else {
			return;
		}
	}
}

static bool
accept(struct parser *p, const char *token)
{
	size_t len = strlen(token);

	skip_space(p);
	if (strncmp(p->text + p->pos, token, len) != 0)
		return false;
	p->pos += len;
	return true;
}

static bool
expect(struct parser *p, const char *token)
{
	if (accept(p, token))
		return true;
	parse_fail(p, "expected '%s'", token);
	return false;
}

static bool
is_word_char(char c, bool dots)
{
	return isalnum((unsigned char)c) || c == '_' || (dots && c == '.') ||
	       (dots && c == '-');
}

/* Reads a name: a field name, a member name, or (with dots) an interface
 * name. Returns a new string or NULL. */
static char *
parse_word(struct parser *p, bool dots)
{
	size_t start, len;
	char *word;

	skip_space(p);
	start = p->pos;
	if (!isalpha((unsigned char)p->text[start])) {
		parse_fail(p, "expected a name");
		return NULL;
	}
	while (is_word_char(p->text[p->pos], dots))
		p->pos++;
	len = p->pos - start;
	if (len > IDL_NAME_MAX) {
		parse_fail(p, "name longer than %d characters", IDL_NAME_MAX);
		return NULL;
	}
	word = strndup(p->text + start, len);
	if (!word)
		parse_fail(p, "out of memory");
	return word;
}

static bool
word_follows(struct parser *p, const char *word)
{
	size_t len = strlen(word);

	skip_space(p);
	return strncmp(p->text + p->pos, word, len) == 0 &&
	       !is_word_char(p->text[p->pos + len], false);
}

static struct type *parse_type(struct parser *p);

static struct type *
type_new(struct parser *p, enum type_kind kind)
{
	struct type *type = calloc(1, sizeof(*type));

	if (!type)
		parse_fail(p, "out of memory");
	else
		type->kind = kind;
	return type;
}

static bool
add_field(struct parser *p, struct type *type, char *name,
	  struct type *field_type)
{
	struct field *fields;

	for (size_t i = 0; i < type->n_fields; i++) {
		if (strcmp(type->fields[i].name, name) == 0) {
			parse_fail(p, "field '%s' declared twice", name);
			goto fail;
		}
	}
	fields = realloc(type->fields, (type->n_fields + 1) * sizeof(*fields));
	if (!fields) {
		parse_fail(p, "out of memory");
		goto fail;
	}
	type->fields = fields;
	type->fields[type->n_fields].name = name;
	type->fields[type->n_fields].type = field_type;
	type->n_fields++;
	return true;

fail:
	free(name);
	type_free(field_type);
	return false;
}

/* Parses "( ... )" after its opening bracket: a struct when the first name
 * is followed by ':', an enum otherwise. "()" is an empty struct. */
static struct type *
parse_struct_or_enum(struct parser *p)
{
	struct type *type = type_new(p, TYPE_STRUCT);
	bool first = true;

	if (!type)
		return NULL;
	if (accept(p, ")"))
		return type;
	do {
		char *name = parse_word(p, false);
		struct type *field_type = NULL;

		if (!name)
			goto fail;
		if (first)
			type->kind = accept(p, ":") ? TYPE_STRUCT : TYPE_ENUM;
		else if (type->kind == TYPE_STRUCT && !expect(p, ":"))
			goto fail_name;
		first = false;
		if (type->kind == TYPE_STRUCT) {
			field_type = parse_type(p);
			if (!field_type)
				goto fail_name;
		}
		if (!add_field(p, type, name, field_type))
			goto fail;
		continue;
	fail_name:
		free(name);
		goto fail;
	} while (accept(p, ","));
	if (!expect(p, ")"))
		goto fail;
	return type;

fail:
	type_free(type);
	return NULL;
}

static struct type *
parse_type_inner(struct parser *p)
{
	static const struct {
		const char *word;
		enum type_kind kind;
	} builtins[] = {
		{"bool", TYPE_BOOL},	 {"int", TYPE_INT},
		{"float", TYPE_FLOAT},	 {"string", TYPE_STRING},
		{"object", TYPE_OBJECT},
	};
	struct type *type;
	enum type_kind wrapper;

	if (accept(p, "?"))
		wrapper = TYPE_OPTIONAL;
	else if (accept(p, "[]"))
		wrapper = TYPE_ARRAY;
	else if (accept(p, "[string]"))
		wrapper = TYPE_MAP;
	else if (accept(p, "("))
		return parse_struct_or_enum(p);
	else
		goto element;

	type = type_new(p, wrapper);
	if (!type)
		return NULL;
	if (wrapper == TYPE_OPTIONAL && accept(p, "?")) {
		parse_fail(p, "an optional type cannot be optional again");
		type_free(type);
		return NULL;
	}
	type->element = parse_type(p);
	if (!type->element) {
		type_free(type);
		return NULL;
	}
	return type;

element:
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (word_follows(p, builtins[i].word)) {
			p->pos += strlen(builtins[i].word);
			return type_new(p, builtins[i].kind);
		}
	}
	skip_space(p);
	if (!isupper((unsigned char)p->text[p->pos])) {
		parse_fail(p, "expected a type");
		return NULL;
	}
	type = type_new(p, TYPE_NAMED);
	if (!type)
		return NULL;
	type->name = parse_word(p, false);
	if (!type->name) {
		type_free(type);
		return NULL;
	}
	return type;
}

static struct type *
parse_type(struct parser *p)
{
	struct type *type;

	if (++p->depth > IDL_DEPTH_MAX) {
		parse_fail(p, "types nested deeper than %d", IDL_DEPTH_MAX);
		return NULL;
	}
	type = parse_type_inner(p);
	p->depth--;
	return type;
}

/* Parses a parenthesized struct, as methods and errors require. */
static struct type *
parse_struct(struct parser *p)
{
	struct type *type;

	if (!expect(p, "("))
		return NULL;
	type = parse_struct_or_enum(p);
	if (type && type->kind != TYPE_STRUCT) {
		parse_fail(p, "expected a struct, not an enum");
		type_free(type);
		return NULL;
	}
	return type;
}

static struct member *
find_member(const struct vl_interface *interface, enum member_kind kind,
	    const char *name)
{
	for (size_t i = 0; i < interface->n_members; i++) {
		struct member *m = &interface->members[i];

		if (m->kind == kind && strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

static bool
parse_member(struct parser *p, struct vl_interface *interface)
{
	static const char *const keywords[] = {
		[MEMBER_TYPE] = "type",
		[MEMBER_METHOD] = "method",
		[MEMBER_ERROR] = "error",
	};
	struct member member = {0};
	struct member *members;
	bool found = false;

	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		if (word_follows(p, keywords[k])) {
			member.kind = (enum member_kind)k;
			p->pos += strlen(keywords[k]);
			found = true;
			break;
		}
	}
	if (!found) {
		parse_fail(p, "expected 'type', 'method' or 'error'");
		return false;
	}

	member.name = parse_word(p, false);
	if (!member.name)
		return false;
	if (!isupper((unsigned char)member.name[0])) {
		parse_fail(p, "'%s' must start with a capital letter",
			   member.name);
		goto fail;
	}
	if (find_member(interface, member.kind, member.name)) {
		parse_fail(p, "'%s' declared twice", member.name);
		goto fail;
	}

	if (member.kind == MEMBER_TYPE) {
		if (!expect(p, "("))
			goto fail;
		member.input = parse_struct_or_enum(p);
	} else {
		member.input = parse_struct(p);
	}
	if (!member.input)
		goto fail;
	if (member.kind == MEMBER_METHOD) {
		if (!expect(p, "->"))
			goto fail;
		member.output = parse_struct(p);
		if (!member.output)
			goto fail;
	}

	members = realloc(interface->members,
			  (interface->n_members + 1) * sizeof(*members));
	if (!members) {
		parse_fail(p, "out of memory");
		goto fail;
	}
	interface->members = members;
	interface->members[interface->n_members++] = member;
	return true;

fail:
	free(member.name);
	type_free(member.input);
	type_free(member.output);
	return false;
}

/* Checks that every named type refers to a declared type. */
static bool
resolve_names(struct parser *p, const struct vl_interface *interface,
	      const struct type *type)
{
	if (!type)
		return true;
	if (type->kind == TYPE_NAMED &&
	    !find_member(interface, MEMBER_TYPE, type->name)) {
		parse_fail(p, "type '%s' is not declared", type->name);
		return false;
	}
	if (!resolve_names(p, interface, type->element))
		return false;
	for (size_t i = 0; i < type->n_fields; i++)
		if (!resolve_names(p, interface, type->fields[i].type))
			return false;
	return true;
}

struct vl_interface *
vl_interface_parse(const char *description, char *error, size_t error_size)
{
	struct parser p = {
		.text = description,
		.line = 1,
		.error = error,
		.error_size = error_size,
	};
	struct vl_interface *interface = calloc(1, sizeof(*interface));

	if (error_size)
		error[0] = '\0';
	if (!interface)
		return NULL;
	interface->description = strdup(description);
	if (!interface->description)
		goto fail;

	if (!word_follows(&p, "interface")) {
		parse_fail(&p, "expected 'interface'");
		goto fail;
	}
	p.pos += strlen("interface");
	interface->name = parse_word(&p, true);
	if (!interface->name)
		goto fail;
	if (!strchr(interface->name, '.')) {
		parse_fail(&p, "interface name '%s' needs a domain",
			   interface->name);
		goto fail;
	}

	skip_space(&p);
	while (p.text[p.pos]) {
		if (!parse_member(&p, interface))
			goto fail;
		skip_space(&p);
	}
	for (size_t i = 0; i < interface->n_members; i++) {
		if (!resolve_names(&p, interface,
				   interface->members[i].input) ||
		    !resolve_names(&p, interface, interface->members[i].output))
			goto fail;
	}
	return interface;

fail:
	vl_interface_free(interface);
	return NULL;
}

const char *
vl_interface_name(const struct vl_interface *interface)
{
	return interface->name;
}

const char *
vl_interface_description(const struct vl_interface *interface)
{
	return interface->description;
}

bool
vl_interface_has_method(const struct vl_interface *interface, const char *name)
{
	return find_member(interface, MEMBER_METHOD, name) != NULL;
}

bool
vl_interface_has_error(const struct vl_interface *interface, const char *name)
{
	return find_member(interface, MEMBER_ERROR, name) != NULL;
}

struct checker {
	const struct vl_interface *interface;
	char *bad;
	size_t bad_size;
	int depth;
};

/* The position of a value below the parameters: a struct field, an array
 * index or a map key under its parent. The text of a path is written only
 * when a check fails, since checking every call is on the daemon's hot
 * path. */
struct path {
	const struct path *parent;
	const char *field; /* set for a struct field */
	const char *key;   /* set for a map key */
	size_t index;	   /* for an array element */
};

static bool check_value(struct checker *c, const struct type *type,
			const json_t *value, const struct path *path);

/* Appends the path to bad: fields joined by dots, then [index] or
 * ["key"]. */
static void
format_path(struct checker *c, const struct path *path)
{
	size_t len;

	if (!path)
		return;
	format_path(c, path->parent);
	len = strlen(c->bad);
	if (path->field)
		snprintf(c->bad + len, c->bad_size - len, "%s%s",
			 len ? "." : "", path->field);
	else if (path->key)
		snprintf(c->bad + len, c->bad_size - len, "[\"%s\"]",
			 path->key);
	else
		snprintf(c->bad + len, c->bad_size - len, "[%zu]", path->index);
}

/* Cuts a UTF-8 sequence that truncation left incomplete at the end of
 * text. A path quotes the peer's member names, and goes back to it in a
 * JSON string, which must be valid UTF-8. */
static void
trim_partial_utf8(char *text)
{
	size_t len = strlen(text), start = len, need;
	unsigned char lead;

	while (start > 0 && len - start < 4 &&
	       ((unsigned char)text[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0)
		return;
	lead = (unsigned char)text[start - 1];
	if (lead < 0xc0)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (len - (start - 1) < need)
		text[start - 1] = '\0';
}

static bool
check_fail(struct checker *c, const struct path *path)
{
	if (!c->bad_size)
		return false;
	c->bad[0] = '\0';
	if (path)
		format_path(c, path);
	else
		snprintf(c->bad, c->bad_size, "parameters");
	trim_partial_utf8(c->bad);
	return false;
}

static bool
check_struct(struct checker *c, const struct type *type, const json_t *value,
	     const struct path *path)
{
	struct path sub = {.parent = path};
	const char *key;
	json_t *member;

	if (!json_is_object(value))
		return check_fail(c, path);
	for (size_t i = 0; i < type->n_fields; i++) {
		const struct field *f = &type->fields[i];

		sub.field = f->name;
		member = json_object_get(value, f->name);
		if (!member && f->type->kind != TYPE_OPTIONAL)
			return check_fail(c, &sub);
		if (member && !check_value(c, f->type, member, &sub))
			return false;
	}
	json_object_foreach((json_t *)value, key, member)
	{
		bool known = false;

		for (size_t i = 0; i < type->n_fields && !known; i++)
			known = strcmp(type->fields[i].name, key) == 0;
		if (!known) {
			sub.field = key;
			return check_fail(c, &sub);
		}
	}
	return true;
}

static bool
check_enum(struct checker *c, const struct type *type, const json_t *value,
	   const struct path *path)
{
	if (json_is_string(value)) {
		for (size_t i = 0; i < type->n_fields; i++)
			if (strcmp(type->fields[i].name,
				   json_string_value(value)) == 0)
				return true;
	}
	return check_fail(c, path);
}

static bool
check_container(struct checker *c, const struct type *type, const json_t *value,
		const struct path *path)
{
	struct path sub = {.parent = path};
	const char *key;
	json_t *element;
	size_t i;

	if (type->kind == TYPE_ARRAY) {
		if (!json_is_array(value))
			return check_fail(c, path);
		json_array_foreach(value, i, element)
		{
			sub.index = i;
			if (!check_value(c, type->element, element, &sub))
				return false;
		}
		return true;
	}
	if (!json_is_object(value))
		return check_fail(c, path);
	json_object_foreach((json_t *)value, key, element)
	{
		sub.key = key;
		if (!check_value(c, type->element, element, &sub))
			return false;
	}
	return true;
}

static bool
check_value(struct checker *c, const struct type *type, const json_t *value,
	    const struct path *path)
{
	const struct member *named;
	bool ok;

	if (type->kind == TYPE_OPTIONAL)
		return json_is_null(value) ||
		       check_value(c, type->element, value, path);
	if (++c->depth > IDL_DEPTH_MAX * 2)
		return check_fail(c, path);

	switch (type->kind) {
	case TYPE_BOOL:
		ok = json_is_boolean(value) || check_fail(c, path);
		break;
	case TYPE_INT:
		ok = json_is_integer(value) || check_fail(c, path);
		break;
	case TYPE_FLOAT:
		ok = json_is_number(value) || check_fail(c, path);
		break;
	case TYPE_STRING:
		ok = json_is_string(value) || check_fail(c, path);
		break;
	case TYPE_OBJECT:
		ok = true;
		break;
	case TYPE_NAMED:
		named = find_member(c->interface, MEMBER_TYPE, type->name);
		ok = check_value(c, named->input, value, path);
		break;
	case TYPE_STRUCT:
		ok = check_struct(c, type, value, path);
		break;
	case TYPE_ENUM:
		ok = check_enum(c, type, value, path);
		break;
	default:
		ok = check_container(c, type, value, path);
		break;
	}
	c->depth--;
	return ok;
}

int
vl_interface_check(const struct vl_interface *interface, enum vl_check what,
		   const char *name, const json_t *parameters, char *bad,
		   size_t bad_size)
{
	struct checker c = {interface, bad, bad_size, 0};
	const struct member *member;
	const struct type *type;

	if (bad_size)
		bad[0] = '\0';
	member = find_member(
		interface,
		what == VL_CHECK_ERROR ? MEMBER_ERROR : MEMBER_METHOD, name);
	if (!member) {
		if (bad_size)
			snprintf(bad, bad_size, "%s", name);
		return -1;
	}
	type = what == VL_CHECK_OUTPUT ? member->output : member->input;
	return check_value(&c, type, parameters, NULL) ? 0 : -1;
}

/* The Varlink interface parser and the parameter checker, on certpick's own
 * interfaces and on small definitions written for one rule each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interfaces.h"
#include "varlink-idl.h"

static struct vl_interface *
parse_ok(const char *text)
{
	char error[256];
	struct vl_interface *interface =
		vl_interface_parse(text, error, sizeof(error));

	if (!interface)
		fail_msg("parse failed: %s", error);
	return interface;
}

static void
certpick_interfaces_parse(void **state)
{
	struct vl_interface *agent = parse_ok(cp_agent_interface);
	struct vl_interface *picker = parse_ok(cp_picker_interface);

	assert_string_equal(vl_interface_name(agent), "org.certpick.Agent");
	assert_string_equal(vl_interface_name(picker), "org.certpick.Picker");
	assert_true(vl_interface_has_method(agent, "Select"));
	assert_true(vl_interface_has_method(agent, "Sign"));
	assert_true(vl_interface_has_error(agent, "NoCertificate"));
	assert_false(vl_interface_has_method(agent, "NoCertificate"));
	assert_true(vl_interface_has_method(picker, "Choose"));
	assert_string_equal(vl_interface_description(agent),
			    cp_agent_interface);
	vl_interface_free(agent);
	vl_interface_free(picker);
}

/* Checks text (JSON) against a method's input; returns the bad path, or
 * NULL when the check passed. */
static const char *
check_input(const struct vl_interface *interface, const char *method,
	    const char *text)
{
	static char bad[256];
	json_error_t error;
	json_t *parameters = json_loads(text, 0, &error);
	int r;

	if (!parameters)
		fail_msg("test JSON invalid: %s", error.text);
	r = vl_interface_check(interface, VL_CHECK_INPUT, method, parameters,
			       bad, sizeof(bad));
	json_decref(parameters);
	return r == 0 ? NULL : bad;
}

static void
select_parameters_checked(void **state)
{
	struct vl_interface *agent = parse_ok(cp_agent_interface);

	assert_null(
		check_input(agent, "Select", "{\"host\":\"a\",\"port\":443}"));
	assert_null(
		check_input(agent, "Select",
			    "{\"host\":\"a\",\"port\":443,"
			    "\"ca_names\":null,\"sigalgs\":[\"ed25519\"]}"));
	assert_string_equal(check_input(agent, "Select", "{\"host\":\"a\"}"),
			    "port");
	assert_string_equal(
		check_input(agent, "Select", "{\"host\":1,\"port\":443}"),
		"host");
	assert_string_equal(check_input(agent, "Select",
					"{\"host\":\"a\",\"port\":\"443\"}"),
			    "port");
	assert_string_equal(check_input(agent, "Select",
					"{\"host\":\"a\",\"port\":1,"
					"\"ca_names\":[\"x\",2]}"),
			    "ca_names[1]");
	assert_string_equal(check_input(agent, "Select",
					"{\"host\":\"a\",\"port\":1,"
					"\"colour\":\"blue\"}"),
			    "colour");
	assert_string_equal(check_input(agent, "Select", "[]"), "parameters");
	vl_interface_free(agent);
}

static void
nested_types_checked(void **state)
{
	struct vl_interface *picker = parse_ok(cp_picker_interface);
	const char *bad = check_input(
		picker, "Choose",
		"{\"dialog\":1,\"requester\":{\"pid\":1,\"name\":\"x\","
		"\"executable\":\"/x\"},\"server\":{\"host\":\"h\","
		"\"port\":1},\"ca_names_given\":true,\"candidates\":[],"
		"\"timeout\":5,\"remember_scopes\":[\"once\"],"
		"\"retry\":{\"id\":\"a\",\"reason\":\"r\",\"tries_left\":\"3\"}}");

	assert_non_null(bad);
	assert_string_equal(bad, "retry.tries_left");
	vl_interface_free(picker);
}

static const char small[] = "# One of each kind of type.\n"
			    "interface org.example.test\n"
			    "type Colour (red, green, blue)\n"
			    "type Point (x: float, y: float)\n"
			    "method Paint(\n"
			    "  colour: Colour,\n"
			    "  at: ?Point,\n"
			    "  tags: [string]string,\n"
			    "  path: []Point,\n"
			    "  anything: object,\n"
			    "  inline: (a: bool, b: ?int)\n"
			    ") -> ()\n"
			    "error Failed (why: string)\n";

static void
every_type_kind_checked(void **state)
{
	struct vl_interface *interface = parse_ok(small);
	const char *valid =
		"{\"colour\":\"red\",\"at\":null,"
		"\"tags\":{\"k\":\"v\"},\"path\":[{\"x\":1,\"y\":2.5}],"
		"\"anything\":[1,\"two\"],\"inline\":{\"a\":true}}";

	assert_null(check_input(interface, "Paint", valid));
	assert_string_equal(
		check_input(interface, "Paint",
			    "{\"colour\":\"pink\",\"tags\":{},\"path\":[],"
			    "\"anything\":1,\"inline\":{\"a\":true}}"),
		"colour");
	assert_string_equal(
		check_input(
			interface, "Paint",
			"{\"colour\":\"red\",\"tags\":{\"k\":1},\"path\":[],"
			"\"anything\":1,\"inline\":{\"a\":true}}"),
		"tags[\"k\"]");
	assert_string_equal(
		check_input(
			interface, "Paint",
			"{\"colour\":\"red\",\"tags\":{},\"path\":[{\"x\":1}],"
			"\"anything\":1,\"inline\":{\"a\":true}}"),
		"path[0].y");
	assert_string_equal(
		check_input(interface, "Paint",
			    "{\"colour\":\"red\",\"tags\":{},\"path\":[],"
			    "\"anything\":1,\"inline\":{\"a\":1}}"),
		"inline.a");
	vl_interface_free(interface);
}

static void
output_and_error_checked(void **state)
{
	struct vl_interface *interface = parse_ok(small);
	json_t *empty = json_object();
	json_t *why = json_pack("{s:s}", "why", "because");
	json_t *wrong = json_pack("{s:i}", "why", 3);
	char bad[64];

	assert_int_equal(vl_interface_check(interface, VL_CHECK_OUTPUT, "Paint",
					    empty, bad, sizeof(bad)),
			 0);
	assert_int_equal(vl_interface_check(interface, VL_CHECK_ERROR, "Failed",
					    why, bad, sizeof(bad)),
			 0);
	assert_int_equal(vl_interface_check(interface, VL_CHECK_ERROR, "Failed",
					    wrong, bad, sizeof(bad)),
			 -1);
	assert_string_equal(bad, "why");
	assert_int_equal(vl_interface_check(interface, VL_CHECK_INPUT,
					    "Missing", empty, bad, sizeof(bad)),
			 -1);
	json_decref(empty);
	json_decref(why);
	json_decref(wrong);
	vl_interface_free(interface);
}

/* Each definition breaks one rule; the error names its line. */
static void
syntax_errors_name_the_line(void **state)
{
	static const struct {
		const char *text;
		const char *line;
	} cases[] = {
		{"method A() -> ()", "line 1"},
		{"interface nodomain\n", "line 1"},
		{"interface a.b\nmethod A() -> ()\nmethod A() -> ()", "line 3"},
		{"interface a.b\n\nmethod a() -> ()", "line 3"},
		{"interface a.b\nmethod A(x: Missing) -> ()", "line 2"},
		{"interface a.b\nmethod A(x: ??int) -> ()", "line 2"},
		{"interface a.b\nmethod A(x: int) ()", "line 2"},
		{"interface a.b\nmethod A(x: int, x: int) -> ()", "line 2"},
		{"interface a.b\nerror E (a, b)", "line 2"},
		{"interface a.b\nmethod A(x) -> ()", "line 2"},
		{"interface a.b\nfrobnicate A()", "line 2"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char error[256];
		struct vl_interface *interface =
			vl_interface_parse(cases[i].text, error, sizeof(error));

		assert_null(interface);
		assert_non_null(strstr(error, cases[i].line));
	}
}

static void
deep_type_rejected(void **state)
{
	char text[512] = "interface a.b\nmethod A(x: ";
	char error[256];
	size_t n = strlen(text);

	for (int i = 0; i < 40; i++) {
		memcpy(text + n, "[]", 2);
		n += 2;
	}
	strcpy(text + n, "int) -> ()");
	assert_null(vl_interface_parse(text, error, sizeof(error)));
	assert_non_null(strstr(error, "nested"));
}

/* A path cut to fit its buffer stays valid UTF-8, because certpickd sends
 * it back in InvalidParameter as a JSON string. */
static void
cut_path_stays_utf8(void **state)
{
	struct vl_interface *agent = parse_ok(cp_agent_interface);
	json_t *parameters = json_pack("{s:s, s:i}", "host", "a", "port", 1);
	char name[400], bad[64];

	/* Each "\xc3\xa9" is two bytes; the buffer holds 63. */
	for (size_t i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[sizeof(name) - 2] = '\0';
	json_object_set_new(parameters, name, json_true());
	for (size_t size = 2; size <= sizeof(bad); size++) {
		json_t *text;

		assert_int_equal(vl_interface_check(agent, VL_CHECK_INPUT,
						    "Select", parameters, bad,
						    size),
				 -1);
		assert_true(strlen(bad) % 2 == 0);
		text = json_string(bad);
		assert_non_null(text);
		json_decref(text);
	}
	json_decref(parameters);
	vl_interface_free(agent);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(certpick_interfaces_parse),
		cmocka_unit_test(select_parameters_checked),
		cmocka_unit_test(nested_types_checked),
		cmocka_unit_test(every_type_kind_checked),
		cmocka_unit_test(output_and_error_checked),
		cmocka_unit_test(syntax_errors_name_the_line),
		cmocka_unit_test(deep_type_rejected),
		cmocka_unit_test(cut_path_stays_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

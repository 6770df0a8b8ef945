/* certpick-picker: the window in which a person chooses the certificate
 * that a program presents. certpickd starts it with one end of a
 * socketpair as the file descriptor that CERTPICK_PICKER_FD names, and
 * calls org.certpick.Picker on it. The picker exits when certpickd closes
 * the socket. */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gtk/gtk.h>

#include "picker-dialog.h"
#include "picker-request.h"
#include "picker-server.h"
#include "varlink.h"

#define ERROR_DISPLAY_UNAVAILABLE "org.certpick.Picker.DisplayUnavailable"

struct picker {
	GMainLoop *loop;
	struct picker_server *server;
	struct picker_dialog *dialog; /* NULL without a display */
	char *display_error;
	int status;
	bool trace; /* CERTPICK_PICKER_TRACE_PAINT=1 */
};

/* Logs a step of the start-up with its monotonic time, so that benchmarks
 * can tell where the start-up time goes. */
static void
trace_step(const struct picker *picker, const char *step)
{
	if (picker->trace)
		g_message(
			"Start-up step \"%s\" at monotonic_us=%" G_GINT64_FORMAT,
			step, g_get_monotonic_time());
}

static void
on_choose(struct picker_call *call, const json_t *parameters, void *data)
{
	struct picker *picker = data;
	struct picker_request *request;
	char bad[256];

	request = picker_request_from_json(parameters, bad, sizeof(bad));
	if (!request) {
		g_info("Rejecting Choose: invalid parameter %s", bad);
		picker_server_fail(picker->server, call,
				   VL_ERROR_INVALID_PARAMETER,
				   json_pack("{ss}", "parameter", bad));
		return;
	}
	if (!picker->dialog) {
		picker_request_free(request);
		picker_server_fail(
			picker->server, call, ERROR_DISPLAY_UNAVAILABLE,
			json_pack("{ss}", "reason", picker->display_error));
		return;
	}
	picker_dialog_choose(picker->dialog, call, request);
}

static void
on_close(int64_t dialog, const char *reason, void *data)
{
	struct picker *picker = data;

	if (picker->dialog)
		picker_dialog_close(picker->dialog, dialog, reason);
}

static void
on_disconnected(bool failed, void *data)
{
	struct picker *picker = data;

	picker->status = failed ? EXIT_FAILURE : EXIT_SUCCESS;
	g_main_loop_quit(picker->loop);
}

/* Reads the socket's number from CERTPICK_PICKER_FD and removes the
 * variable, so that nothing the picker starts inherits it. Returns -1
 * after printing what is wrong. */
static int
picker_fd_from_environment(void)
{
	const char *value = g_getenv("CERTPICK_PICKER_FD");
	guint64 fd;
	struct stat st;

	if (!value) {
		g_printerr("certpick-picker: CERTPICK_PICKER_FD is not set. "
			   "certpickd starts the picker with the number of a "
			   "socket in it.\n");
		return -1;
	}
	if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXINT, &fd, NULL)) {
		g_printerr("certpick-picker: invalid CERTPICK_PICKER_FD "
			   "\"%.20s\": expected a file descriptor number.\n",
			   value);
		return -1;
	}
	if (fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		g_printerr("certpick-picker: CERTPICK_PICKER_FD=%d is not an "
			   "open socket.\n",
			   (int)fd);
		return -1;
	}
	g_unsetenv("CERTPICK_PICKER_FD");
	return (int)fd;
}

static bool
parse_arguments(int *argc, char ***argv)
{
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{"version", 0, 0, G_OPTION_ARG_NONE, &version,
		 "Print the version and exit", NULL},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	g_option_context_set_summary(
		context, "Shows certpickd's certificate requests to the "
			 "person. certpickd starts it; it serves "
			 "org.certpick.Picker on the socket that "
			 "CERTPICK_PICKER_FD names.");
	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_add_group(context, gtk_get_option_group(FALSE));
	if (!g_option_context_parse(context, argc, argv, &error)) {
		g_printerr("certpick-picker: %s\n", error->message);
		return false;
	}
	if (version) {
		g_print("certpick-picker %s\n", CERTPICK_VERSION);
		exit(EXIT_SUCCESS);
	}
	return true;
}

/* Opens the display. Without one the picker still serves, and fails each
 * Choose with DisplayUnavailable, so that certpickd can tell the client
 * why. */
static void
open_display(struct picker *picker, int *argc, char ***argv)
{
	if (!gtk_init_check(argc, argv)) {
		const char *display = g_getenv("DISPLAY");

		picker->display_error = g_strdup_printf(
			"cannot open the display%s%s", display ? " " : "",
			display ? display : " (DISPLAY is not set)");
		g_warning("Cannot show dialogs: %s", picker->display_error);
		return;
	}
	trace_step(picker, "display opened");
	picker->dialog = picker_dialog_new(picker->server, picker->trace);
	trace_step(picker, "window built");
}

int
main(int argc, char **argv)
{
	struct picker picker = {0};
	const struct picker_server_handlers handlers = {
		.choose = on_choose,
		.close = on_close,
		.disconnected = on_disconnected,
	};
	const char *trace = g_getenv("CERTPICK_PICKER_TRACE_PAINT");
	g_autoptr(GError) error = NULL;
	int fd;

	picker.trace = trace && strcmp(trace, "1") == 0;
	trace_step(&picker, "main");
	/* Before any JSON value exists: passphrases travel in replies. */
	vl_json_use_wiping_allocator();
	setlocale(LC_ALL, "");
	g_set_prgname("certpick-picker");
	g_set_application_name("certpick");
	if (!parse_arguments(&argc, &argv))
		return 2;
	fd = picker_fd_from_environment();
	if (fd < 0)
		return 2;

	picker.loop = g_main_loop_new(NULL, FALSE);
	picker.server = picker_server_new(fd, &handlers, &picker, &error);
	if (!picker.server) {
		g_printerr("certpick-picker: %s\n", error->message);
		return EXIT_FAILURE;
	}
	open_display(&picker, &argc, &argv);

	g_debug("Serving org.certpick.Picker on fd %d", fd);
	g_main_loop_run(picker.loop);
	g_debug("certpickd closed the connection; exiting");

	picker_dialog_free(picker.dialog);
	picker_server_free(picker.server);
	g_main_loop_unref(picker.loop);
	g_free(picker.display_error);
	return picker.status;
}

/* Fuzz target for the picker's reading of a Choose call
 * (gui/picker-request.c) and the words it makes of it (gui/picker-text.c),
 * after the Varlink decoder and the IDL check, as certpick-picker does.
 * The input is one call message. Every string the dialog would show must
 * be valid UTF-8 without control characters other than the newline of a
 * split fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "interfaces.h"
#include "picker-request.h"
#include "picker-text.h"
#include "varlink-idl.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vl_interface *picker;

/* Checks and frees a string the dialog would show. */
static void
shown(char *text, bool newline_allowed)
{
	if (!text || !g_utf8_validate(text, -1, NULL))
		abort();
	for (const char *p = text; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c == '\n' && newline_allowed)
			continue;
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			abort();
	}
	g_free(text);
}

static void
show_candidate(const struct picker_candidate *candidate, GDateTime *now)
{
	bool warn;

	shown(g_strdup(candidate->display_name), false);
	if (candidate->distinction)
		shown(g_strdup(candidate->distinction), false);
	shown(picker_text_key(candidate), false);
	shown(picker_text_storage(candidate), false);
	shown(picker_text_date(candidate->not_before), false);
	shown(picker_text_expiry(candidate, now, &warn), false);
	shown(picker_text_fingerprint(candidate->sha256_fingerprint), true);
	for (char **reason = candidate->reasons; *reason; reason++)
		shown(picker_text_reason(candidate, *reason), false);
	for (char **usage = candidate->key_usage; *usage; usage++)
		shown(picker_text_usage(*usage), false);
	for (char **usage = candidate->extended_key_usage; *usage; usage++)
		shown(picker_text_usage(*usage), false);
	for (char **subject = candidate->chain_subjects; *subject; subject++)
		shown(picker_text_clean(*subject, PICKER_TEXT_MAX_CHARS),
		      false);
}

static void
show(const struct picker_request *request)
{
	GDateTime *now = g_date_time_new_from_unix_utc(1767225600);

	shown(picker_request_server_text(request), false);
	shown(picker_text_clean(request->requester_name, 64), false);
	shown(picker_text_clean(request->requester_executable,
				PICKER_TEXT_MAX_CHARS),
	      false);
	if (request->server_organization)
		shown(picker_text_clean(request->server_organization,
					PICKER_TEXT_MAX_CHARS),
		      false);
	for (size_t i = 0; i < request->n_candidates; i++)
		show_candidate(request->candidates[i], now);
	if (request->retry)
		shown(picker_text_retry(request->retry_reason,
					request->retry_tries_left),
		      false);
	shown(picker_text_excluded_title(request->n_candidates -
						 request->n_eligible,
					 (uint64_t)request->omitted_excluded),
	      false);
	shown(picker_text_omitted_eligible((uint64_t)request->omitted_eligible),
	      false);
	shown(picker_text_countdown(request->timeout), false);
	if (request->preselected)
		picker_request_find(request, request->preselected);
	g_date_time_unref(now);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct picker_request *request;
	struct vl_call call;
	json_t *message;
	char bad[128];

	if (!picker) {
		picker = vl_interface_parse(cp_picker_interface, NULL, 0);
		if (!picker)
			abort();
	}
	if (vl_message_decode((const char *)data, size, &message) != VL_OK)
		return 0;
	if (vl_message_to_call(message, &call) == VL_OK &&
	    strcmp(call.method, "org.certpick.Picker.Choose") == 0 &&
	    vl_interface_check(picker, VL_CHECK_INPUT, "Choose",
			       call.parameters, bad, sizeof(bad)) == 0) {
		request = picker_request_from_json(call.parameters, bad,
						   sizeof(bad));
		if (request) {
			if (request->n_eligible > request->n_candidates ||
			    request->omitted_eligible < 0 ||
			    request->omitted_excluded < 0)
				abort();
			show(request);
			picker_request_free(request);
		}
	}
	json_decref(message);
	return 0;
}

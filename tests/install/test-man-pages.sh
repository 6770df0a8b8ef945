#!/bin/sh
# Checks the man pages that meson configured: groff formats them without
# warnings, and each names every option and subcommand that its program's
# --help lists, so that a new option cannot go undocumented.
#
#   test-man-pages.sh MAN_DIR CERTPICK CERTPICKD CERTPICK_PICKER
set -eu

[ $# -eq 4 ] || {
	echo "usage: test-man-pages.sh MAN_DIR CERTPICK CERTPICKD" \
		"CERTPICK_PICKER" >&2
	exit 2
}
man_dir=$1 certpick=$2 certpickd=$3 picker=$4
failures=0
# GTK and fontconfig keep caches until exit, which LeakSanitizer would
# report for the picker's --help in a sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
export LC_ALL=C.UTF-8

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

for page in certpick.1 certpickd.1 certpick-picker.1; do
	warnings=$(groff -man -Tutf8 -ww -z "$man_dir/$page" 2>&1) ||
		fail "groff cannot format $page: $warnings"
	[ -z "$warnings" ] || fail "groff warns about $page: $warnings"
done

# expect_options PAGE COMMAND...: every --option in COMMAND's output is in
# PAGE, written as roff writes it (\-\-option).
expect_options() {
	page=$man_dir/$1
	shift
	help=$("$@" 2>&1) || {
		fail "'$*' failed: $help"
		return 0
	}
	options=$(printf '%s\n' "$help" | grep -o -- '--[a-z0-9][a-z0-9.-]*' |
		sort -u)
	[ -n "$options" ] || fail "'$*' lists no options"
	for option in $options; do
		roff=$(printf '%s' "$option" | sed 's/-/\\-/g')
		grep -qF -- "$roff" "$page" ||
			fail "'$*' lists $option, which ${page##*/} lacks"
	done
}

commands=$("$certpick" --help | sed -n 's/^  \([a-z]\{1,\}\) .*/\1/p')
[ -n "$commands" ] || fail "certpick --help lists no commands"
for command in $commands; do
	grep -qF ".SS \"certpick $command" "$man_dir/certpick.1" ||
		fail "certpick.1 has no section for 'certpick $command'"
	expect_options certpick.1 "$certpick" "$command" --help
done
expect_options certpickd.1 "$certpickd" --help
expect_options certpick-picker.1 "$picker" --help

[ $failures -eq 0 ] || exit 1
echo "the man pages format cleanly and name every option"

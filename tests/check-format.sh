#!/bin/sh
# Checks that every C file that git tracks in SOURCE_ROOT passes
# clang-format. Usage: check-format.sh SOURCE_ROOT CLANG_FORMAT
set -eu

root=$1
clang_format=$2
cd "$root"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "check-format: $root is not a git checkout; skipping" >&2
	exit 77
fi
files=$(git ls-files '*.c' '*.h')
# shellcheck disable=SC2086 # one word a file; no path has a space
if ! "$clang_format" --dry-run -Werror $files; then
	echo "check-format: run clang-format -i on the files above" >&2
	exit 1
fi
echo "check-format: $(echo "$files" | wc -l) files pass"

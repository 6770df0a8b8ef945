#!/bin/sh
# Installs what the tests need, builds certpick in BUILD_DIR (default
# "build") and runs the whole test suite there. Extra arguments go to
# "meson setup", such as -Db_sanitize=address,undefined.
#
#   tests/run-tests.sh [BUILD_DIR [MESON_OPTION]...]
set -eu

cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift

.ci/install-deps
if [ -d "$build/meson-private" ]; then
	meson setup --reconfigure "$build" "$@"
else
	meson setup "$build" "$@"
fi
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2

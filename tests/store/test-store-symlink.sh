#!/bin/sh
# A store file that is a symbolic link is skipped with a warning that names
# the link and how to fix it, in place of the errno text of O_NOFOLLOW.
# The other identities still load.
#
# Needs CERTPICK_CLI and CERTPICK_TEST_PKI (meson test sets them).
set -eu

cli=${CERTPICK_CLI:?run this with meson test}
pki=${CERTPICK_TEST_PKI:?run this with meson test}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/certpick-symlink.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$cli" import --store "$tmp/store" "$pki/leaves/p256/bundle.pem" >/dev/null
"$cli" import --store "$tmp/other" "$pki/leaves/p384/bundle.pem" >/dev/null
target=$(ls "$tmp/other")
ln -s "../other/$target" "$tmp/store/$target"

"$cli" identities --store "$tmp/store" >"$tmp/out" 2>"$tmp/err"
status=0
if ! grep -q "skipping $tmp/store/$target: it is a symbolic link" "$tmp/err"
then
	echo "FAIL: no warning that names the symbolic link:" >&2
	cat "$tmp/err" >&2
	status=1
fi
if ! grep -q "Alice P-256" "$tmp/out"; then
	echo "FAIL: the regular identity file was not loaded:" >&2
	cat "$tmp/out" >&2
	status=1
fi
if grep -q "Alice P-384" "$tmp/out"; then
	echo "FAIL: the identity behind the symbolic link was loaded" >&2
	status=1
fi
exit $status

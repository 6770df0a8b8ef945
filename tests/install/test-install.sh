#!/bin/sh
# Installs the build into a temporary DESTDIR with "meson install" and
# checks that the files a desktop user needs are in place. These are the
# programs, libcertpick with its header and pkg-config file, the systemd
# user units, the desktop entry and the man pages. Then a small program
# compiles and links against the installed libcertpick through its
# pkg-config file, and runs.
#
#   test-install.sh BUILD_DIR CC SANITIZE PREFIX BINDIR LIBDIR LIBEXECDIR
#                   INCLUDEDIR DATADIR MANDIR
#
# The folders are meson's options, relative to PREFIX unless absolute.
# SANITIZE is the b_sanitize option, which the small program needs too.
set -eu

[ $# -eq 10 ] || {
	echo "usage: test-install.sh BUILD_DIR CC SANITIZE PREFIX BINDIR" \
		"LIBDIR LIBEXECDIR INCLUDEDIR DATADIR MANDIR" >&2
	exit 2
}
build=$1 cc=$2 sanitize=$3 prefix=$4
shift 4

# under_prefix DIR: DIR made absolute against PREFIX.
under_prefix() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$prefix/$1" ;;
	esac
}
bindir=$(under_prefix "$1")
libdir=$(under_prefix "$2")
libexecdir=$(under_prefix "$3")
includedir=$(under_prefix "$4")
datadir=$(under_prefix "$5")
mandir=$(under_prefix "$6")

work=$(mktemp -d "${TMPDIR:-/tmp}/certpick-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
destdir=$work/destdir
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# meson test has built everything already; --no-rebuild keeps this test
# from running ninja inside the running build.
if ! meson install -C "$build" --destdir "$destdir" --no-rebuild \
	--quiet >"$work/install.log" 2>&1; then
	cat "$work/install.log" >&2
	echo "FAIL: meson install failed" >&2
	exit 1
fi

expect_file() { # PATH [executable]
	if [ ! -f "$destdir$1" ]; then
		fail "$1 is not installed"
	elif [ "${2:-}" = executable ] && [ ! -x "$destdir$1" ]; then
		fail "$1 is installed but not executable"
	fi
}

expect_line() { # PATH LINE
	[ -f "$destdir$1" ] || return 0
	grep -qxF -- "$2" "$destdir$1" ||
		fail "$1 lacks the line '$2'"
}

expect_file "$bindir/certpick" executable
expect_file "$bindir/certpickd" executable
expect_file "$libexecdir/certpick-picker" executable
expect_file "$libdir/libcertpick.so.0.1.0"
[ -L "$destdir$libdir/libcertpick.so.0" ] ||
	fail "$libdir/libcertpick.so.0 is not a symbolic link"
[ -L "$destdir$libdir/libcertpick.so" ] ||
	fail "$libdir/libcertpick.so is not a symbolic link"
expect_file "$includedir/certpick.h"
expect_file "$libdir/pkgconfig/certpick.pc"

# systemd's user manager reads units from lib/systemd/user under /usr and
# /usr/local.
units=$prefix/lib/systemd/user
expect_file "$units/certpickd.socket"
expect_file "$units/certpickd.service"
expect_line "$units/certpickd.service" \
	"ExecStart=$bindir/certpickd --foreground"

expect_file "$datadir/applications/certpick-picker.desktop"
expect_line "$datadir/applications/certpick-picker.desktop" \
	"Exec=$libexecdir/certpick-picker"
expect_file "$datadir/metainfo/org.certpick.Picker.metainfo.xml"

for page in certpick certpickd certpick-picker; do
	expect_file "$mandir/man1/$page.1"
done

# The installed pkg-config file and header are enough to build a client.
cat >"$work/client.c" <<'END'
/* Sets up a TLS client context for libcertpick, as a program does. */
#include <stdio.h>

#include <certpick.h>
#include <openssl/ssl.h>

int
main(void)
{
	char err[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || certpick_init(err, sizeof(err)) < 0 ||
	    certpick_setup_ctx(ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "libcertpick: %s\n", ctx ? err : "no SSL_CTX");
		return 1;
	}
	SSL_CTX_free(ctx);
	puts("libcertpick works");
	return 0;
}
END
sanitize_flags=
if [ "$sanitize" != none ]; then
	sanitize_flags=-fsanitize=$sanitize
fi
# The sysroot puts DESTDIR in front of the -I and -L paths of the file.
export PKG_CONFIG_PATH="$destdir$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$destdir"
# shellcheck disable=SC2086 # $flags and $sanitize_flags are word lists
if ! flags=$(pkg-config --cflags --libs certpick 2>&1); then
	fail "pkg-config --cflags --libs certpick: $flags"
elif ! "$cc" -Wall -Werror $sanitize_flags -o "$work/client" \
	"$work/client.c" $flags; then
	fail "a client does not build with: $flags"
elif ! output=$(LD_LIBRARY_PATH="$destdir$libdir" "$work/client" 2>&1)
then
	fail "the client linked against the installed libcertpick failed:" \
		"$output"
elif [ "$output" != "libcertpick works" ]; then
	fail "the client printed '$output'"
fi

if [ $failures -gt 0 ]; then
	echo "installed files:" >&2
	(cd "$destdir" && find . -type f -o -type l | sort) >&2
	exit 1
fi
echo "meson install put every file in place under $prefix"

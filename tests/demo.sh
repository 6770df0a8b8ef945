#!/bin/sh
# Shows certpick at work: installs the Debian 12 packages, builds, makes a
# demo PKI and an nginx server on loopback that requires a client
# certificate, starts certpickd with a private store and socket, and runs
# "certpick connect" against nginx. With a display the picker opens for
# you. Without one the demo runs Xvfb, chooses the first eligible identity
# through AT-SPI, and saves a screenshot of the picker.
#
#   tests/demo.sh [--build-dir DIR] [--no-setup] [--headless]
#                 [--screenshot FILE]
#
# Everything it starts runs as you, on 127.0.0.1, under a temporary
# folder, and stops when it ends or on Ctrl-C. Your own identity store,
# decisions and certpickd socket are not touched.
set -eu

usage() {
	cat <<'EOF'
usage: tests/demo.sh [--build-dir DIR] [--no-setup] [--headless]
                     [--screenshot FILE]

  --build-dir DIR    the meson build folder (default: build, in the checkout)
  --no-setup         use the programs already built in DIR: install no
                     packages and do not build
  --headless         use Xvfb and choose through AT-SPI even when a display
                     is available
  --screenshot FILE  where the headless run saves the picker's screenshot
                     (default: DIR/certpick-demo-picker.png)
EOF
}

source_root=$(cd "$(dirname "$0")/.." && pwd)
build=$source_root/build
setup=true
headless=false
screenshot=

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		build=$2
		shift
		;;
	--no-setup) setup=false ;;
	--headless) headless=true ;;
	--screenshot)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		screenshot=$2
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "demo: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

say() {
	printf 'demo: %s\n' "$*"
}

fail() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# 1. Packages and the build ---------------------------------------------

if $setup; then
	say "installing the Debian 12 packages that certpick needs"
	"$source_root/.ci/install-deps"
	if [ ! -f "$build/build.ninja" ]; then
		say "configuring the build in $build"
		meson setup "$build" "$source_root"
	fi
	say "building in $build"
	meson compile -C "$build"
fi
[ -d "$build" ] ||
	fail "the build folder $build is missing: run without --no-setup"
build=$(cd "$build" && pwd)
certpick=$build/daemon/certpick
certpickd=$build/daemon/certpickd
picker=$build/gui/certpick-picker
for program in "$certpick" "$certpickd" "$picker"; do
	[ -x "$program" ] ||
		fail "$program is missing: build first, or run without --no-setup"
done
screenshot=${screenshot:-$build/certpick-demo-picker.png}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || fail "nginx is missing: run without --no-setup"

# 2. Cleanup, also on Ctrl-C --------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/certpick-demo.XXXXXX")
started= # process ids, the last started first

# shellcheck disable=SC2317 # the traps below call it
stop_all() {
	# Another Ctrl-C must not cut the cleanup short.
	trap '' INT TERM HUP
	trap - EXIT
	for pid in $started; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $started; do
		# certpickd closes the picker and exits within a second of
		# SIGTERM; anything still running after 5 s is killed.
		tries=50
		while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
			sleep 0.1
			tries=$((tries - 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}

track() {
	started="$1 $started"
}

trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.1 s until it
# succeeds, or fails the demo after SECONDS.
wait_for() {
	what=$1
	tries=$(($2 * 10))
	shift 2
	until "$@" 2>/dev/null; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

# listening PORT: whether a TCP socket listens on PORT, from the kernel's
# table, without a connection that the server would log.
listening() {
	awk -v port="$(printf ':%04X' "$1")" '
		$4 == "0A" && substr($2, length($2) - 4) == port { found = 1 }
		END { exit !found }' /proc/net/tcp
}

# 3. The demo PKI and the identity store --------------------------------

say "making a demo PKI in $work/pki"
pki=$work/pki
"$source_root/tests/pki/make-pki.sh" "$pki" >"$work/pki.log" 2>&1 ||
	fail "making the PKI failed; see tests/pki/make-pki.sh"

# A private store, socket and state folder: the demo's certpickd and
# clients find them through these variables and options.
mkdir -m 700 "$work/run" "$work/state"
export CERTPICK_STORE="$work/store"
export CERTPICK_SOCKET="$work/run/socket"
export XDG_STATE_HOME="$work/state"

# nginx trusts only the root CA. The two eligible identities, Alice P-256
# and Alice RSA-2048, come from the intermediate CA, so they work only when
# their chain travels with them. The other five are excluded, each for
# another reason.
# certpick import warns about the ones that no server could accept. The
# matcher's view below gives every reason, so the warnings go to a log.
for name in p256 rsa2048 expired not-yet-valid other-issuer server-eku \
	key-encipherment; do
	"$certpick" import "$pki/leaves/$name/bundle.pem" \
		>"$work/import.log" 2>&1 ||
		fail "importing $name failed: $(cat "$work/import.log")"
done

# 4. nginx on a free loopback port --------------------------------------

mkdir "$work/nginx" "$work/nginx/logs" "$work/nginx/tmp"
write_nginx_conf() {
	cat >"$work/nginx/nginx.conf" <<EOF
# The demo server: TLS on 127.0.0.1:$1, a client certificate required and
# verified against the root CA only.
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http {
    access_log $work/nginx/logs/access.log;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $pki/server/cert.pem;
        ssl_certificate_key $pki/server/key.pem;
        ssl_client_certificate $pki/ca/root.pem;
        ssl_verify_client on;
        ssl_verify_depth 4;
        location / {
            default_type text/plain;
            return 200
                "verify=\$ssl_client_verify subject=\$ssl_client_s_dn\n";
        }
    }
}
EOF
}

port=
for _ in 1 2 3 4 5; do
	candidate=$(shuf -i 20000-60999 -n 1)
	listening "$candidate" && continue
	write_nginx_conf "$candidate"
	"$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" \
		-e "$work/nginx/logs/error.log" -g 'daemon off;' \
		>"$work/nginx/logs/stderr.log" 2>&1 &
	nginx_pid=$!
	until listening "$candidate" || ! kill -0 "$nginx_pid" 2>/dev/null; do
		sleep 0.1
	done
	if listening "$candidate"; then
		track "$nginx_pid"
		port=$candidate
		break
	fi
	wait "$nginx_pid" 2>/dev/null || true
done
[ -n "$port" ] || fail "nginx did not start; see its log:
$(cat "$work/nginx/logs/error.log" 2>/dev/null)"
say "nginx listens on 127.0.0.1:$port and requires a client certificate"
say "from the root CA; it responds with the certificate's subject"

# 5. A display: yours, or Xvfb -----------------------------------------

display_usable() {
	if [ -n "${WAYLAND_DISPLAY:-}" ]; then
		case $WAYLAND_DISPLAY in
		/*) socket=$WAYLAND_DISPLAY ;;
		*) socket=${XDG_RUNTIME_DIR:-/nonexistent}/$WAYLAND_DISPLAY ;;
		esac
		[ -S "$socket" ] && return 0
	fi
	[ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1
}

if ! $headless && ! display_usable; then
	headless=true
	say "no usable display: running the picker under Xvfb"
fi

if $headless; then
	# A private session: X server, D-Bus session bus (which starts the
	# AT-SPI bus on demand) and window manager, all stopped at the end.
	mkdir -m 700 "$work/xdg-runtime"
	export XDG_RUNTIME_DIR="$work/xdg-runtime"
	unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS AT_SPI_BUS_ADDRESS \
		NO_AT_BRIDGE
	export GSETTINGS_BACKEND=memory LC_ALL=C.UTF-8

	Xvfb -displayfd 3 -noreset -nolisten tcp -screen 0 1280x1024x24 \
		3>"$work/display" 2>"$work/xvfb.log" &
	track $!
	wait_for "Xvfb to start" 15 grep -q . "$work/display"
	DISPLAY=":$(cat "$work/display")"
	export DISPLAY

	export DBUS_SESSION_BUS_ADDRESS="unix:path=$XDG_RUNTIME_DIR/bus"
	dbus-daemon --session --nofork --nopidfile \
		--address="$DBUS_SESSION_BUS_ADDRESS" >"$work/dbus.log" 2>&1 &
	track $!
	wait_for "the D-Bus session bus" 15 test -S "$XDG_RUNTIME_DIR/bus"

	openbox --sm-disable >"$work/openbox.log" 2>&1 &
	track $!
	wait_for "openbox" 15 sh -c \
		'xprop -root _NET_SUPPORTING_WM_CHECK | grep -q "window id"'
fi

# 6. certpickd -----------------------------------------------------------

# An empty policy, so that a system-wide one cannot choose for you.
echo '{"AutoSelectCertificateForUrls": []}' >"$work/policy.json"
"$certpickd" --foreground -v --socket "$CERTPICK_SOCKET" \
	--store "$CERTPICK_STORE" --picker "$picker" \
	--policy "$work/policy.json" >"$work/certpickd.log" 2>&1 &
track $!
wait_for "certpickd to listen" 30 test -S "$CERTPICK_SOCKET"

say "the identities, as the matcher sees them for this server:"
"$certpick" match --ca-file "$pki/ca/root.pem" --host localhost \
	--port "$port" | awk '
	/^(eligible|excluded) / { if (line) print line; line = "  " $0 }
	/^  reasons:/ { sub(/^  reasons: */, ""); line = line " (" $0 ")" }
	END { if (line) print line }'
say "both eligible identities come from an intermediate CA that nginx does"
say "not hold, so certpick sends their chain with them"

# 7. certpick connect ---------------------------------------------------

url=https://localhost:$port/
status=0
say "running: certpick connect --ca-file $pki/ca/server-ca.pem $url"
if ! $headless; then
	say "the picker opens: choose a certificate, or send none"
	"$certpick" connect --ca-file "$pki/ca/server-ca.pem" "$url" \
		>"$work/answer" || status=$?
else
	"$certpick" connect --ca-file "$pki/ca/server-ca.pem" "$url" \
		>"$work/answer" 2>"$work/connect.log" &
	connect_pid=$!
	track $connect_pid
	mkdir -p "$(dirname "$screenshot")"
	rm -f "$screenshot"
	if ! /usr/bin/python3 "$source_root/tests/e2e/demo-choose.py" \
		"$screenshot" >"$work/choose.log" 2>&1; then
		cat "$work/choose.log" >&2
		fail "choosing in the picker failed; certpickd's log:
$(tail -n 20 "$work/certpickd.log")"
	fi
	say "$(grep '^chose: ' "$work/choose.log")"
	wait $connect_pid || status=$?
	cat "$work/connect.log" >&2
fi

say "nginx responded:"
sed 's/^/  /' "$work/answer"
if $headless; then
	say "screenshot of the picker: $screenshot"
fi
if [ $status -ne 0 ]; then
	say "certpick connect exited with status $status"
	say "(certpick connect --help lists the exit statuses)"
fi
exit $status

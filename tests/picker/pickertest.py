"""Test harness for certpick-picker: plays certpickd's part on a
socketpair, runs the picker under Xvfb and openbox in a private D-Bus
session, drives it through AT-SPI and key events, and takes screenshots.

Used by test-picker.py and by tests/bench/bench-picker.py. Needs Debian's
/usr/bin/python3 with python3-gi, gir1.2-atspi-2.0, gir1.2-gtk-3.0 and
python3-cryptography.
"""

import datetime
import hashlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77

# Set in the environment of the re-executed driver, which then runs inside
# its own D-Bus session.
SESSION_MARK = "CERTPICK_PICKER_TEST_SESSION"

PAINT_RE = re.compile(r"Painted dialog (-?\d+) \(paint (\d+)\) at "
                      r"monotonic_us=(\d+)")


class Skip(Exception):
    """The X server or AT-SPI cannot start here at all."""


class Failure(Exception):
    """A check failed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def require_program(name, package):
    path = shutil.which(name)
    if not path:
        raise Failure(f"{name} is missing: install the Debian package "
                      f"{package} (.ci/install-deps lists it)")
    return path


def in_private_session(argv):
    """Starts Xvfb on a free display, then re-executes the driver inside
    dbus-run-session with private XDG folders and that display, unless it
    runs there already. Returns only inside; outside, exits with the
    driver's status once the X server is stopped again, or with SKIP when
    the X server cannot start."""
    if os.environ.get(SESSION_MARK):
        return
    runner = require_program("dbus-run-session", "dbus")

    home = tempfile.mkdtemp(prefix="certpick-picker-test-")
    env = dict(os.environ)
    for name in ("XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                 "XDG_DATA_HOME", "XDG_STATE_HOME"):
        path = os.path.join(home, name.lower())
        os.mkdir(path, 0o700)
        env[name] = path
    env[SESSION_MARK] = "1"
    for name in ("WAYLAND_DISPLAY", "NO_AT_BRIDGE", "AT_SPI_BUS_ADDRESS",
                 "DBUS_SESSION_BUS_ADDRESS"):
        env.pop(name, None)
    env["GSETTINGS_BACKEND"] = "memory"
    env["LC_ALL"] = "C.UTF-8"

    try:
        server = XServer()
    except Skip as skip:
        print(f"SKIP: {skip}", file=sys.stderr)
        sys.exit(SKIP)
    # The D-Bus session, and so the AT-SPI registry that it starts on
    # demand, inherit DISPLAY: the registry synthesizes key events there.
    env["DISPLAY"] = server.display

    try:
        result = subprocess.run([runner, "--", sys.executable] + argv,
                                env=env)
    finally:
        # The driver has exited first, because Xlib would end it with
        # status 1 when its X server went away.
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    sys.exit(result.returncode)


class XServer:
    """Xvfb on a free display, found with -displayfd."""

    def __init__(self, width=1280, height=1024):
        xvfb = require_program("Xvfb", "xvfb")
        read_end, write_end = os.pipe()
        # -noreset: without it, Xvfb resets when its last client
        # disconnects, and a client that connects during the reset may fail
        # with "cannot open display".
        self.process = subprocess.Popen(
            [xvfb, "-displayfd", str(write_end), "-noreset", "-nolisten",
             "tcp", "-screen", "0", f"{width}x{height}x24"],
            pass_fds=[write_end], stderr=subprocess.DEVNULL)
        os.close(write_end)
        number = self._read_display(read_end)
        os.close(read_end)
        if number is None:
            self.stop()
            raise Skip("Xvfb did not start")
        self.display = f":{number}"

    @staticmethod
    def _read_display(fd, timeout=15):
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 16)
            if not chunk:
                return None
            data += chunk
        return data.decode().strip()

    def stop(self):
        stop_process(self.process)


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WindowManager:
    """openbox on the display of the session, which behaves like a
    desktop: it focuses, raises and stacks transient windows."""

    def __init__(self):
        openbox = require_program("openbox", "openbox")
        self.process = subprocess.Popen(
            [openbox, "--sm-disable"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self._wait_until_running()

    def _wait_until_running(self, timeout=10):
        gdk, gdk_x11 = gdk_modules()
        screen = gdk.Screen.get_default()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name = gdk_x11.X11Screen.get_window_manager_name(screen)
            if name and name.lower() == "openbox":
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise Failure("openbox did not start managing the display")

    def stop(self):
        stop_process(self.process)


_gdk = None


def gdk_modules():
    """Gdk and GdkX11 for screenshots, loaded once DISPLAY is set. The
    driver itself stays out of the accessibility tree."""
    global _gdk
    if _gdk is None:
        os.environ["NO_AT_BRIDGE"] = "1"
        import gi
        gi.require_version("Gdk", "3.0")
        gi.require_version("GdkX11", "3.0")
        from gi.repository import Gdk, GdkX11
        if not Gdk.init_check([])[0]:
            raise Skip("cannot open the X display for screenshots")
        os.environ.pop("NO_AT_BRIDGE")
        _gdk = (Gdk, GdkX11)
    return _gdk


class Picker:
    """certpick-picker on one end of a socketpair, with this object as
    certpickd on the other end."""

    def __init__(self, path, env=None, trace=True, leaks=False, echo=True):
        self.sock, theirs = socket.socketpair()
        child_env = dict(os.environ if env is None else env)
        child_env["CERTPICK_PICKER_FD"] = "3"
        if trace:
            child_env["CERTPICK_PICKER_TRACE_PAINT"] = "1"
        child_env.setdefault("G_DEBUG", "fatal-criticals")
        if not leaks:
            # GTK, fontconfig and the accessibility bridge keep caches
            # until exit, which LeakSanitizer reports as leaks.
            child_env["ASAN_OPTIONS"] = (
                child_env.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

        def put_socket_on_fd_3():
            if theirs.fileno() == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(theirs.fileno(), 3)

        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [path], env=child_env, preexec_fn=put_socket_on_fd_3,
            close_fds=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace")
        theirs.close()
        self.echo = echo
        self.buffer = b""
        self.paints = []
        self.log = []
        self.lock = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read_log, args=(stream,),
                             daemon=True)
            for stream in (self.process.stdout, self.process.stderr)]
        for reader in self.readers:
            reader.start()

    def _read_log(self, stream):
        for line in stream:
            if self.echo:
                sys.stderr.write("picker: " + line)
            match = PAINT_RE.search(line)
            with self.lock:
                self.log.append(line)
                if match:
                    self.paints.append((int(match.group(1)),
                                        int(match.group(3)) / 1e6))
                self.lock.notify_all()

    def send(self, method, parameters=None, **flags):
        message = {"method": method, "parameters": parameters or {}}
        message.update(flags)
        self.sock.sendall(json.dumps(message).encode() + b"\0")
        return time.monotonic()

    def receive(self, timeout=20):
        """Returns the next message from the picker as a dict."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [],
                                              left)[0]:
                raise Failure(f"no reply from the picker in {timeout} s")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("the picker closed the connection")
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(frame)

    def call(self, method, parameters=None, timeout=20):
        self.send(method, parameters)
        return self.receive(timeout)

    def nothing_received(self, wait=0.3):
        if self.buffer:
            return False
        return not select.select([self.sock], [], [], wait)[0]

    def wait_for_paint(self, dialog, after, timeout=20):
        """Waits for a paint of dialog later than the monotonic time after
        and returns its time."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for number, at in self.paints:
                    if number == dialog and at >= after:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"dialog {dialog} was not painted in "
                                  f"{timeout} s")
                self.lock.wait(left)

    def close(self, timeout=20):
        """Closes the socket (EOF) and returns the exit status."""
        self.sock.close()
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failure("the picker did not exit at EOF")
        for reader in self.readers:
            reader.join(5)
        return status

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def expect_reply(message, what):
    check("error" not in message,
          f"{what}: expected a reply, got the error {message.get('error')} "
          f"{message.get('parameters')}")
    return message.get("parameters", {})


def expect_error(message, error, what):
    check(message.get("error") == error,
          f"{what}: expected the error {error}, got {message}")
    return message.get("parameters", {})


# Candidates from the test PKI -------------------------------------------

EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}

KEY_USAGE_NAMES = [
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
]

CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384",
               "secp521r1": "P-521"}


def _time(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


PEM_CERTIFICATE_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _load_pem_certificates(path):
    # load_pem_x509_certificates needs cryptography 39; Debian 12 has 38.
    from cryptography import x509
    with open(path, "rb") as f:
        data = f.read()
    return [x509.load_pem_x509_certificate(block)
            for block in PEM_CERTIFICATE_RE.findall(data)]


def _common_name(name):
    from cryptography.x509.oid import NameOID
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else ""


def _key_facts(certificate):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, CURVE_NAMES.get(key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519", 256, None
    return "ED448", 456, None


def _usages(certificate):
    from cryptography import x509
    key_usage, extended = [], []
    try:
        usage = certificate.extensions.get_extension_for_class(
            x509.KeyUsage).value
        key_usage = [name for attribute, name in KEY_USAGE_NAMES
                     if getattr(usage, attribute)]
    except x509.ExtensionNotFound:
        pass
    try:
        eku = certificate.extensions.get_extension_for_class(
            x509.ExtendedKeyUsage).value
        extended = [EKU_NAMES.get(oid.dotted_string, oid.dotted_string)
                    for oid in eku]
    except x509.ExtensionNotFound:
        pass
    return key_usage, extended


def _emails(certificate):
    from cryptography import x509
    try:
        san = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.RFC822Name)


def _reasons(certificate, key_usage, extended, accepted_issuers, now):
    """A small matcher over the facts of the certificate. It covers the
    reasons that the identities of the test PKI call for; key types and
    missing keys are not judged."""
    reasons = []
    if accepted_issuers is not None and \
            _common_name(certificate.issuer) not in accepted_issuers:
        reasons.append("issuer-not-accepted")
    if certificate.not_valid_after < now:
        reasons.append("expired")
    if certificate.not_valid_before > now:
        reasons.append("not-yet-valid")
    if extended and not {"clientAuth", "anyExtendedKeyUsage"} & \
            set(extended):
        reasons.append("no-client-auth-eku")
    if key_usage and "digitalSignature" not in key_usage:
        reasons.append("key-usage-lacks-digital-signature")
    return reasons


# The start of the words in which the dialog gives each reason code of
# org.certpick.Picker.
REASON_WORDS = {
    "expired": "Expired on",
    "not-yet-valid": "Not valid until",
    "issuer-not-accepted": "Not issued by an authority this server accepts",
    "no-client-auth-eku": "Not meant for TLS client authentication",
    "key-usage-lacks-digital-signature":
        "Its key usage does not allow signing",
}

ACCEPTED_ISSUERS = {"certpick Test Root CA", "certpick Test Intermediate CA"}


def candidate(pki, name, label=None, locked=False, cert_file=None,
              accepted_issuers=ACCEPTED_ISSUERS):
    """A Candidate of org.certpick.Picker made from the leaf NAME of the
    test PKI (or from cert_file), judged against accepted_issuers (None:
    the server named no CAs)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    leaf_dir = os.path.join(pki, "leaves", name)
    cert_path = cert_file or os.path.join(leaf_dir, "cert.pem")
    leaf = _load_pem_certificates(cert_path)[0]
    chain_path = os.path.join(leaf_dir, "chain.pem")
    chain = _load_pem_certificates(chain_path) \
        if os.path.exists(chain_path) else []
    der = leaf.public_bytes(Encoding.DER)
    digest = hashlib.sha256(der).digest()
    key_type, key_bits, curve = _key_facts(leaf)
    key_usage, extended = _usages(leaf)
    now = datetime.datetime.utcnow()
    reasons = _reasons(leaf, key_usage, extended, accepted_issuers, now)
    return {
        "id": digest.hex(),
        "label": label if label is not None else _common_name(leaf.subject),
        "subject": leaf.subject.rfc4514_string(),
        "common_name": _common_name(leaf.subject),
        "issuer": leaf.issuer.rfc4514_string(),
        "issuer_common_name": _common_name(leaf.issuer),
        "serial": format(leaf.serial_number, "X"),
        "not_before": _time(leaf.not_valid_before),
        "not_after": _time(leaf.not_valid_after),
        "sha256_fingerprint": ":".join(f"{b:02X}" for b in digest),
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
        "key_usage": key_usage,
        "extended_key_usage": extended,
        "emails": _emails(leaf),
        "source_kind": "file",
        "source": cert_path,
        "locked": locked,
        "chain_subjects": [c.subject.rfc4514_string()
                           for c in [leaf] + chain],
        "eligible": not reasons,
        "reasons": reasons,
    }


def choose_parameters(dialog, candidates, preselected=None, timeout=120,
                      ca_names_given=True, parent_window=None,
                      scopes=("once", "session", "always"), retry=None,
                      host="app.example.test", port=8443,
                      organization="Example Health Ltd"):
    eligible = [c for c in candidates if c["eligible"]]
    excluded = [c for c in candidates if not c["eligible"]]
    parameters = {
        "dialog": dialog,
        "requester": {"pid": 4242, "name": "curl",
                      "executable": "/usr/bin/curl"},
        "server": {"host": host, "port": port,
                   "organization": organization,
                   "common_name": host},
        "ca_names_given": ca_names_given,
        "candidates": eligible + excluded,
        "preselected": preselected if preselected is not None else (
            eligible[0]["id"] if eligible else None),
        "timeout": timeout,
        "parent_window": parent_window,
        "remember_scopes": list(scopes),
    }
    if retry is not None:
        parameters["retry"] = retry
    return parameters


# AT-SPI -----------------------------------------------------------------

_atspi = None


def atspi():
    """The Atspi module, with its call timeout raised for slow (sanitizer)
    builds. Raises Skip when the accessibility bus cannot start."""
    global _atspi
    if _atspi is None:
        import gi
        gi.require_version("Atspi", "2.0")
        from gi.repository import Atspi
        Atspi.init()
        # Milliseconds for a call and for an application that starts up.
        Atspi.set_timeout(20000, 60000)
        try:
            Atspi.get_desktop(0).get_child_count()
        except Exception as error:
            raise Skip(f"AT-SPI is not available: {error}")
        _atspi = Atspi
    return _atspi


def role_name(node):
    return node.get_role_name()


def has_state(node, state):
    return node.get_state_set().contains(state)


def walk(node, depth=0, max_depth=60):
    yield node
    if depth >= max_depth:
        return
    try:
        count = node.get_child_count()
    except Exception:
        return
    for index in range(count):
        try:
            child = node.get_child_at_index(index)
        except Exception:
            continue
        if child is not None:
            yield from walk(child, depth + 1, max_depth)


def dump(node, out=sys.stderr, depth=0):
    """Prints the accessible tree under node, for failure reports."""
    Atspi = atspi()
    states = [name for name, state in (
        ("showing", Atspi.StateType.SHOWING),
        ("focused", Atspi.StateType.FOCUSED),
        ("selected", Atspi.StateType.SELECTED),
        ("sensitive", Atspi.StateType.SENSITIVE),
        ("expanded", Atspi.StateType.EXPANDED)) if has_state(node, state)]
    print(f"{'  ' * depth}{role_name(node)} {node.get_name()!r} "
          f"[{' '.join(states)}]", file=out)
    for index in range(node.get_child_count()):
        child = node.get_child_at_index(index)
        if child is not None:
            dump(child, out, depth + 1)


def wait_for(predicate, what, timeout=20, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except Exception:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def find_application(name="certpick-picker", timeout=30):
    Atspi = atspi()

    def lookup():
        desktop = Atspi.get_desktop(0)
        for index in range(desktop.get_child_count()):
            app = desktop.get_child_at_index(index)
            if app is not None and app.get_name() == name:
                return app
        return None

    return wait_for(lookup, f"the application {name} on AT-SPI", timeout)


def find(root, role=None, name=None, showing=True, contains=None,
         timeout=20):
    """Waits for a descendant of root with this role name and accessible
    name (exact, or containing contains) and returns it."""
    Atspi = atspi()

    def matches(node):
        if role and role_name(node) != role:
            return False
        node_name = node.get_name() or ""
        if name is not None and node_name != name:
            return False
        if contains is not None and contains not in node_name:
            return False
        return not showing or has_state(node, Atspi.StateType.SHOWING)

    def lookup():
        for node in walk(root):
            if matches(node):
                return node
        return None

    what = f"{role or 'any role'} named {name or contains!r}"
    return wait_for(lookup, what, timeout)


def find_all(root, role, showing=True):
    Atspi = atspi()
    return [node for node in walk(root)
            if role_name(node) == role and
            (not showing or has_state(node, Atspi.StateType.SHOWING))]


def picker_frame(app, timeout=20):
    return find(app, role="dialog", name="Choose a Certificate",
                timeout=timeout)


def window_hidden(app):
    Atspi = atspi()
    for node in walk(app, max_depth=1):
        if role_name(node) == "dialog" and \
                has_state(node, Atspi.StateType.SHOWING):
            return False
    return True


def _keycode(keysym_name):
    gdk, _ = gdk_modules()
    keymap = gdk.Keymap.get_for_display(gdk.Display.get_default())
    found, keys = keymap.get_entries_for_keyval(
        gdk.keyval_from_name(keysym_name))
    check(found and keys, f"no key on the keyboard makes {keysym_name}")
    return keys[0].keycode


def press(keysym_name, modifiers=()):
    """Presses and releases a key, given by its GDK keysym name such as
    "Escape", with modifier keys such as "Alt_L" held down."""
    Atspi = atspi()
    gdk, _ = gdk_modules()
    # Holding a key needs its keycode: the keysym form of the AT-SPI call
    # always presses and releases.
    held = [_keycode(name) for name in modifiers]
    for keycode in held:
        Atspi.generate_keyboard_event(keycode, None,
                                      Atspi.KeySynthType.PRESS)
    Atspi.generate_keyboard_event(gdk.keyval_from_name(keysym_name), None,
                                  Atspi.KeySynthType.SYM)
    for keycode in reversed(held):
        Atspi.generate_keyboard_event(keycode, None,
                                      Atspi.KeySynthType.RELEASE)
    time.sleep(0.05)


def type_text(text):
    Atspi = atspi()
    Atspi.generate_keyboard_event(0, text, Atspi.KeySynthType.STRING)
    time.sleep(0.05)


def do_action(node, name=None):
    """Runs the accessible action called name, else the first one."""
    count = node.get_n_actions()
    for index in range(count):
        if name is None or node.get_action_name(index) == name:
            node.do_action(index)
            return
    raise Failure(f"{role_name(node)} {node.get_name()!r} has no action "
                  f"{name!r}")


def character_count(node):
    """The number of characters in a text node, such as an entry."""
    return atspi().Text.get_character_count(node)


# Screenshots ------------------------------------------------------------

def screenshot(frame, path, settle=0.15):
    """Saves the part of the screen that frame covers as a PNG."""
    Atspi = atspi()
    gdk, _ = gdk_modules()
    time.sleep(settle)
    extents = frame.get_extents(Atspi.CoordType.SCREEN)
    root = gdk.get_default_root_window()
    gdk.flush()
    pixbuf = gdk.pixbuf_get_from_window(root, max(extents.x, 0),
                                        max(extents.y, 0),
                                        max(extents.width, 1),
                                        max(extents.height, 1))
    check(pixbuf is not None, f"cannot take the screenshot {path}")
    pixbuf.savev(path, "png", [], [])
    check(_not_blank(pixbuf), f"the screenshot {path} is blank")
    print(f"screenshot: {path}", flush=True)
    return path


def _not_blank(pixbuf):
    pixels = pixbuf.get_pixels()
    step = max(len(pixels) // 4096, 1)
    samples = {pixels[i] for i in range(0, len(pixels), step)}
    return len(samples) > 8

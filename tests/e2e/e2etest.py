"""Harness for the end-to-end tests: nginx on loopback, certpickd with the
real GTK picker, and certpick connect run as a person runs it, with the
picker driven through AT-SPI under Xvfb and openbox in a private D-Bus
session.

It builds on the other harnesses: daemontest for the private home and
certpickd, clienttest for nginx and the client processes, pickertest for
the display, AT-SPI and screenshots. Each test-*.py file calls
run(test) with a function that takes a Context; the command line is

    test-NAME.py PICKER SCREENSHOT_DIR

and the environment that tests/meson.build sets names certpickd, the
certpick command and the test PKI. Exit status 77 means that the X server
or AT-SPI cannot start at all.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for folder in ("daemon", "client", "picker"):
    sys.path.insert(0, os.path.join(HERE, "..", folder))

import clienttest  # noqa: E402
import daemontest  # noqa: E402
import pickertest as pt  # noqa: E402
from daemontest import Failure, check, check_equal, pki  # noqa: E402,F401

# The identities in every test's store. The server (nginx) trusts only the
# root CA and names it in its CertificateRequest.
ELIGIBLE = {
    "p256": "Alice P-256",  # issued by the intermediate CA
    "rsa3072": "Alice RSA-3072",  # issued by the root CA
}
EXCLUDED = {
    "expired": ("Alice Expired", "expired"),
    "other-issuer": ("Alice Elsewhere", "issuer-not-accepted"),
    "key-encipherment": ("Alice Key Encipherment",
                         "key-usage-lacks-digital-signature"),
    "server-eku": ("Alice Server EKU", "no-client-auth-eku"),
}

# The subjects that nginx reports for the eligible identities, in its
# $ssl_client_s_dn format (RFC 2253).
P256_SUBJECT = "CN=Alice P-256,O=certpick test"
RSA3072_SUBJECT = "CN=Alice RSA-3072,O=certpick test"

# Seconds that certpick connect may take once the person has chosen.
CONNECT_TIMEOUT = 20


class Context(clienttest.Context):
    """One test's home, nginx, certpickd with the real picker, and the
    picker's window on AT-SPI."""

    def __init__(self, home, picker_path, shots, name):
        super().__init__(home)
        self.picker_path = picker_path
        self.shots = shots
        self.name = name
        self.app = None

    def start_daemon(self, script=None, policy=None, timeout=None):
        """Starts certpickd with the real picker. script is not used: the
        picker here is certpick-picker, not the scripted one."""
        picker = RealPicker(self.home, self.picker_path)
        self.daemon = daemontest.Daemon(self.home, picker, policy,
                                        timeout).start()
        return self.daemon

    def import_all(self):
        self.import_identities(*ELIGIBLE, *EXCLUDED)

    def url(self, server):
        return f"https://localhost:{server.port}/"

    def dialogs_shown(self):
        """The number of dialogs that certpickd asked the picker to show,
        from its debug log."""
        return self.daemon.log().count("showing dialog ")

    def wait_for_dialog(self, client):
        """Waits for the picker's window to show the request of client, a
        certpick connect process, and returns the window's frame. The
        picker reuses its window, so the frame alone could still be the
        previous dialog's."""
        if self.app is None:
            self.app = pt.find_application(timeout=30)
        frame = pt.picker_frame(self.app, timeout=30)
        pt.find(frame, role="label",
                name=f"certpick (process {client.process.pid})", timeout=30)
        return frame

    def dialog_hidden(self):
        return self.app is None or pt.window_hidden(self.app)

    def shot(self, frame, state):
        path = os.path.join(self.shots, f"e2e-{self.name}-{state}.png")
        return pt.screenshot(frame, path)


class RealPicker:
    """certpick-picker behind a two-line wrapper that turns off leak
    reports in sanitizer builds: GTK, fontconfig and the accessibility
    bridge keep caches until exit, and the reports would land in
    certpickd's log, which the harness checks for sanitizer output. Other
    sanitizer errors still show. GLib criticals abort the picker."""

    def __init__(self, home, path):
        self.program = os.path.join(home.root, "certpick-picker")
        with open(self.program, "w") as f:
            f.write("#!/bin/sh\n"
                    "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" "
                    f"G_DEBUG=fatal-criticals exec {path} \"$@\"\n")
        os.chmod(self.program, 0o755)


def finish(client, timeout=CONNECT_TIMEOUT):
    """Waits for certpick connect to exit and returns a clienttest.Result
    with its status and output."""
    status = client.wait(timeout)
    return clienttest.Result(subprocess.CompletedProcess(
        client.process.args, status, client.output(), client.errors()))


# The dialog ------------------------------------------------------------

def row_label(row):
    """The label of a row: its accessible name up to the first comma."""
    return (row.get_name() or "").split(",")[0]


def eligible_rows(frame):
    listbox = pt.find(frame, role="list box",
                      name="Certificates accepted by this server")
    return pt.find_all(listbox, "list item")


def excluded_rows(frame):
    """The rows of the excluded identities, after opening their expander
    when it is closed."""
    Atspi = pt.atspi()
    expander = pt.find(frame, role="toggle button",
                       contains="not accepted by this server")
    if not pt.has_state(expander, Atspi.StateType.EXPANDED):
        pt.do_action(expander, "activate")
        pt.wait_for(lambda: pt.has_state(expander,
                                         Atspi.StateType.EXPANDED),
                    "the list of excluded certificates to open")
    listbox = pt.find(frame, role="list box",
                      name="Certificates not accepted by this server")
    # Rows scrolled out of view are not "showing".
    return pt.find_all(listbox, "list item", showing=False)


def check_dialog(frame, host, port):
    """Checks that the dialog names the server, lists exactly the eligible
    identities, and lists every excluded one with its reason in words."""
    pt.find(frame, role="label", name=f"{host} asks for a certificate")
    pt.find(frame, role="label", name=f"{host}:{port}")

    shown = sorted(row_label(row) for row in eligible_rows(frame))
    check_equal(shown, sorted(ELIGIBLE.values()),
                "identities listed as accepted by the server")

    rows = {row_label(row): row.get_name() for row in excluded_rows(frame)}
    check_equal(sorted(rows), sorted(label for label, _ in
                                     EXCLUDED.values()),
                "identities listed as not accepted")
    for label, reason in EXCLUDED.values():
        words = pt.REASON_WORDS[reason]
        check(words in rows[label],
              f"the row of {label} does not say {words!r}: {rows[label]!r}")


def select_identity(frame, label):
    """Selects the row of label with the arrow keys, as a person without a
    mouse would, and returns the row."""
    Atspi = pt.atspi()
    rows = eligible_rows(frame)
    labels = [row_label(row) for row in rows]
    check(label in labels, f"no row for {label!r} in {labels}")
    target = rows[labels.index(label)]
    selected = [i for i, row in enumerate(rows)
                if pt.has_state(row, Atspi.StateType.SELECTED)]
    start = selected[0] if selected else 0
    key = "Down" if labels.index(label) > start else "Up"
    for _ in range(abs(labels.index(label) - start)):
        pt.press(key)
    pt.wait_for(lambda: pt.has_state(target, Atspi.StateType.SELECTED),
                f"the row of {label} to be selected")
    return target


# Positions of the scopes in the "Remember this decision" box when
# certpickd offers all three.
SCOPE_POSITIONS = {"once": 0, "session": 1, "always": 2}


def set_scope(frame, scope):
    """Chooses how long certpickd remembers the decision: Alt+R focuses
    the box, Down moves to the next scope."""
    combo = pt.find(frame, role="combo box", name="Remember this decision")
    check(combo is not None, "no remember box")
    pt.press("r", modifiers=("Alt_L",))
    for _ in range(SCOPE_POSITIONS[scope]):
        pt.press("Down")
    if scope == "always":
        pt.find(frame, role="label", contains="remembered until you log out")


def send(frame):
    pt.do_action(pt.find(frame, role="push button", name="Send"), "click")


def choose(ctx, client, label, scope="once", state="chosen"):
    """Waits for the dialog of client, selects label, sets the scope, takes
    a screenshot and presses Send. Returns the frame."""
    frame = ctx.wait_for_dialog(client)
    select_identity(frame, label)
    if scope != "once":
        set_scope(frame, scope)
    ctx.shot(frame, state)
    send(frame)
    return frame


# The page --------------------------------------------------------------

PAGE_RE = re.compile(r"^verify=(\S+) subject=(.*)$")


def check_page(result, subject, scenario):
    """Checks that certpick connect printed nginx's 200 page for a client
    certificate with subject."""
    clienttest.check_status(result, 0, scenario)
    lines = result.stdout.strip().splitlines()
    check(len(lines) == 1, f"{scenario}: expected one line, got "
                           f"{result.stdout!r}")
    match = PAGE_RE.match(lines[0])
    check(match is not None, f"{scenario}: unexpected page {lines[0]!r}")
    check_equal(match.group(1), "SUCCESS", f"{scenario}: nginx's verdict")
    check_equal(match.group(2), subject, f"{scenario}: subject")


def run(test):
    """Runs test(ctx) in a private X and D-Bus session and exits 0, 1 on a
    failed check, or 77 when the display or AT-SPI cannot start."""
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} PICKER SCREENSHOT_DIR", file=sys.stderr)
        sys.exit(2)
    picker_path = os.path.abspath(sys.argv[1])
    shots = sys.argv[2]
    name = os.path.basename(sys.argv[0])[len("test-"):-len(".py")]

    try:
        pt.in_private_session(sys.argv)
    except pt.Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
    os.makedirs(shots, exist_ok=True)
    clienttest.SERVER_CA = pki("ca", "server-ca.pem")

    try:
        window_manager = pt.WindowManager()
        pt.atspi()
    except pt.Skip as skip:
        print(f"SKIP: {skip}", file=sys.stderr)
        sys.exit(pt.SKIP)

    def wrapped(home):
        ctx = Context(home, picker_path, shots, name)
        try:
            test(ctx)
        except BaseException:
            if ctx.app is not None:
                print("The picker's accessible tree:", file=sys.stderr)
                try:
                    pt.dump(ctx.app)
                except Exception as error:
                    print(f"(cannot read it: {error})", file=sys.stderr)
            ctx.close()
            raise
        ctx.close(passed=True)

    try:
        daemontest.run(wrapped)
    finally:
        window_manager.stop()

#!/usr/bin/python3
"""Runs one behaviour of certpick-picker under a real X server, with this
script in certpickd's place on the socketpair, and drives the dialog as a
person would: with key events and through AT-SPI.

    test-picker.py PICKER PKI_DIR SCREENSHOT_DIR CASE

Exit status 0 when the case passes, 1 when it fails, 77 when the X server
or AT-SPI cannot start at all. Screenshots of each state go to
SCREENSHOT_DIR/picker-CASE-STATE.png, and their paths are printed.
"""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pickertest as pt  # noqa: E402
from pickertest import check  # noqa: E402

PICKER_INTERFACE = "org.certpick.Picker"
WITHDRAWN = PICKER_INTERFACE + ".Withdrawn"
DISMISSED = PICKER_INTERFACE + ".Dismissed"


class Case:
    def __init__(self, picker_path, pki, shots, name):
        self.picker_path = picker_path
        self.pki = pki
        self.shots = shots
        self.name = name
        self.picker = None
        self.app = None

    def shot(self, frame, state):
        path = os.path.join(self.shots, f"picker-{self.name}-{state}.png")
        return pt.screenshot(frame, path)

    def start(self):
        self.picker = pt.Picker(self.picker_path)
        return self.picker

    def show(self, parameters):
        """Sends Choose, waits for the first paint and returns the
        window's accessible frame."""
        sent = self.picker.send(PICKER_INTERFACE + ".Choose", parameters)
        self.picker.wait_for_paint(parameters["dialog"], sent)
        if self.app is None:
            self.app = pt.find_application()
        return pt.picker_frame(self.app)

    def answer(self, what):
        return pt.expect_reply(self.picker.receive(), what)

    def close_dialog(self, dialog, reason="answered"):
        reply = self.picker.call(PICKER_INTERFACE + ".Close",
                                 {"dialog": dialog, "reason": reason})
        pt.expect_reply(reply, "Close")
        pt.wait_for(lambda: pt.window_hidden(self.app),
                    "the window to hide after Close")

    def finish(self):
        status = self.picker.close()
        check(status == 0, f"the picker exited with {status} at EOF")

    def candidates(self, *names, **options):
        return [pt.candidate(self.pki, name, **options) for name in names]


# Roles of the controls that a person operates; each needs a name that a
# screen reader can read.
CONTROL_ROLES = {"push button", "toggle button", "combo box", "list item",
                 "password text", "text", "list box", "check box",
                 "radio button"}


def check_control_names(frame):
    """Checks that every control on screen has an accessible name."""
    Atspi = pt.atspi()
    for node in pt.walk(frame):
        if pt.role_name(node) in CONTROL_ROLES and \
                pt.has_state(node, Atspi.StateType.SHOWING):
            check(node.get_name(),
                  f"a {pt.role_name(node)} has no accessible name")


def focused(frame):
    Atspi = pt.atspi()
    for node in pt.walk(frame):
        if pt.has_state(node, Atspi.StateType.FOCUSED):
            return pt.role_name(node), node.get_name() or pt.role_name(node)
    return None


def case_second_identity(c):
    """Choosing the second identity with the keyboard sends its id; the
    next dialog reuses the running picker."""
    candidates = c.candidates("p256", "rsa2048", "ed25519", "expired")
    c.start()
    frame = c.show(pt.choose_parameters(1, candidates))
    c.shot(frame, "initial")
    check_control_names(frame)

    rows = pt.find_all(frame, "list item")
    names = [row.get_name() for row in rows]
    check(any(n.startswith("Alice P-256") for n in names),
          f"no row for Alice P-256 in {names}")
    heading = pt.find(frame, role="label",
                      name="app.example.test asks for a certificate")
    check(heading is not None, "no heading")
    pt.find(frame, role="label", name="curl (process 4242)")
    pt.find(frame, role="label", name="app.example.test:8443")
    pt.find(frame, role="label", name="Example Health Ltd")
    pt.find(frame, role="label", contains="Closes in")

    pt.press("Down")
    second = pt.find(frame, role="list item", contains="Alice RSA-2048")
    Atspi = pt.atspi()
    pt.wait_for(lambda: pt.has_state(second, Atspi.StateType.SELECTED),
                "the second row to be selected")
    c.shot(frame, "second-selected")
    pt.press("Return")
    reply = c.answer("Choose")
    check(reply.get("id") == candidates[1]["id"],
          f"expected the id of Alice RSA-2048, got {reply}")
    check(reply.get("remember") == "once", f"expected once, got {reply}")
    check("passphrase" not in reply or reply["passphrase"] is None,
          f"a passphrase for an unlocked key: {reply}")
    pt.find(frame, role="animation", name="Busy")
    c.shot(frame, "busy")
    c.close_dialog(1)

    # The same process shows the next dialog.
    frame = c.show(pt.choose_parameters(2, candidates[:2]))
    pt.find(frame, role="list item", contains="Alice P-256")
    pt.press("Return")
    reply = c.answer("Choose of the second dialog")
    check(reply.get("id") == candidates[0]["id"],
          f"expected the preselected id, got {reply}")
    c.close_dialog(2)
    c.finish()


def _click(node, button_event):
    """Sends a pointer event, such as "b1c" (click) or "b1d" (double
    click), to the centre of node."""
    Atspi = pt.atspi()
    box = node.get_extents(Atspi.CoordType.SCREEN)
    Atspi.generate_mouse_event(box.x + box.width // 2,
                               box.y + box.height // 2, button_event)
    time.sleep(0.05)


def case_mouse_select(c):
    """A click on a row selects it and sends nothing, as in browsers'
    dialogs. A double click sends it."""
    candidates = c.candidates("p256", "rsa2048")
    c.start()
    frame = c.show(pt.choose_parameters(1, candidates))
    second = pt.find(frame, role="list item", contains="Alice RSA-2048")
    Atspi = pt.atspi()

    _click(second, "b1c")
    pt.wait_for(lambda: pt.has_state(second, Atspi.StateType.SELECTED),
                "the clicked row to be selected")
    check(c.picker.nothing_received(wait=1.0),
          "a single click on a row sent the identity")
    c.shot(frame, "clicked")

    _click(second, "b1d")
    reply = c.answer("Choose after a double click")
    check(reply.get("id") == candidates[1]["id"],
          f"expected the id of Alice RSA-2048, got {reply}")
    c.close_dialog(1)
    c.finish()


def case_escape(c):
    """Escape sends no certificate; "always" is capped to the session."""
    candidates = c.candidates("p256", "p384")
    c.start()
    frame = c.show(pt.choose_parameters(7, candidates))
    pt.press("Escape")
    reply = c.answer("Choose")
    check(reply.get("id") is None, f"expected a null id, got {reply}")
    check(reply.get("remember") == "once", f"expected once, got {reply}")
    c.close_dialog(7)

    frame = c.show(pt.choose_parameters(8, candidates))
    combo = pt.find(frame, role="combo box", name="Remember this decision")
    # Select "Always for host:port" with the keyboard, the way a person
    # without a mouse would: focus the combo box with its mnemonic, then
    # move down twice.
    check(combo is not None, "no remember combo box")
    pt.press("r", modifiers=("Alt_L",))
    pt.press("Down")
    pt.press("Down")
    pt.find(frame, role="label", contains="remembered until you log out")
    c.shot(frame, "always")
    pt.press("Escape")
    reply = c.answer("Choose with always")
    check(reply.get("id") is None, f"expected a null id, got {reply}")
    check(reply.get("remember") == "session",
          f"send-none with always must be capped to session, got {reply}")
    c.close_dialog(8)
    c.finish()


def case_remember_always(c):
    """The Send button sends the selected identity with the scope chosen
    in the combo box."""
    candidates = c.candidates("p256", "p384")
    c.start()
    frame = c.show(pt.choose_parameters(3, candidates))
    combo = pt.find(frame, role="combo box", name="Remember this decision")
    items = [node.get_name() for node in pt.walk(combo)
             if pt.role_name(node) == "menu item"]
    check(items == ["Just this time", "Until I log out",
                    "Always for app.example.test:8443"],
          f"unexpected scopes {items}")
    # Alt+R focuses the combo box; Down moves to the next scope.
    pt.press("r", modifiers=("Alt_L",))
    pt.press("Down")
    pt.press("Down")
    pt.find(frame, role="label", contains="remembered until you log out")
    send = pt.find(frame, role="push button", name="Send")
    pt.do_action(send, "click")
    reply = c.answer("Choose")
    check(reply.get("id") == candidates[0]["id"], f"wrong id in {reply}")
    check(reply.get("remember") == "always", f"expected always: {reply}")
    c.close_dialog(3)

    # Only the scopes that certpickd offers are shown.
    frame = c.show(pt.choose_parameters(4, candidates, scopes=["once"]))
    combo = pt.find(frame, role="combo box", name="Remember this decision")
    items = [node.get_name() for node in pt.walk(combo)
             if pt.role_name(node) == "menu item"]
    check(items == ["Just this time"], f"unexpected scopes {items}")
    pt.press("Return")
    reply = c.answer("Choose with one scope")
    check(reply.get("remember") == "once", f"expected once: {reply}")
    c.close_dialog(4)
    c.finish()


def case_excluded_reasons(c):
    """The expander lists every excluded identity with its reasons in
    words."""
    candidates = c.candidates("p256", "expired", "not-yet-valid",
                              "other-issuer", "server-eku",
                              "key-encipherment")
    excluded = [x for x in candidates if not x["eligible"]]
    check(len(excluded) == 5, f"the PKI gave {len(excluded)} exclusions")
    c.start()
    frame = c.show(pt.choose_parameters(5, candidates))
    c.shot(frame, "collapsed")
    title = "5 certificates not accepted by this server"
    expander = pt.find(frame, role="toggle button", name=title)
    Atspi = pt.atspi()
    check(not pt.has_state(expander, Atspi.StateType.EXPANDED),
          "the expander starts expanded although identities are eligible")
    eligible = pt.find(frame, role="list box",
                       name="Certificates accepted by this server")
    rows = pt.find_all(eligible, "list item")
    check([r.get_name().split(",")[0] for r in rows] == ["Alice P-256"],
          f"the list of eligible identities shows "
          f"{[r.get_name() for r in rows]}")

    pt.do_action(expander, "activate")
    pt.wait_for(lambda: pt.has_state(expander, Atspi.StateType.EXPANDED),
                "the expander to expand")
    for candidate in excluded:
        # Rows scrolled out of view are not "showing".
        row = pt.find(frame, role="list item", contains=candidate["label"],
                      showing=False)
        name = row.get_name()
        for reason in candidate["reasons"]:
            check(pt.REASON_WORDS[reason] in name,
                  f"row {name!r} lacks the words for {reason}")
        check(not pt.has_state(row, Atspi.StateType.SELECTABLE),
              f"the excluded row {name!r} can be selected")
        pt.find(row, role="label", showing=False,
                contains=pt.REASON_WORDS[candidate["reasons"][0]])
    c.shot(frame, "expanded")
    pt.press("Escape")
    reply = c.answer("Choose")
    check(reply.get("id") is None, f"expected a null id: {reply}")
    c.close_dialog(5)
    c.finish()


def case_tab_order(c):
    """Tab reaches every control, in reading order, and comes back to the
    list: the dialog works with the keyboard alone."""
    candidates = c.candidates("p256", "rsa2048", "expired")

    c.start()
    frame = c.show(pt.choose_parameters(17, candidates))
    start = pt.wait_for(lambda: focused(frame), "a focused control")
    check(start[0] == "list item" and start[1].startswith("Alice P-256"),
          f"the dialog opens with the focus on {start}")
    seen = []
    for _ in range(12):
        pt.press("Tab")
        # The remember combo box keeps the focus in a button that it does
        # not expose, so nothing may show as focused for a while.
        try:
            now = pt.wait_for(lambda: focused(frame), "a focused control",
                              timeout=1)
        except pt.Failure:
            now = ("hidden", None)
        seen.append(now)
        if now == start:
            break

    names = [name for _, name in seen]
    expected = ["Certificate Details",
                "1 certificate not accepted by this server", None,
                "Send No Certificate", "Send", start[1]]
    check(names == expected,
          f"Tab order {names}, expected {expected} (None is the remember "
          f"combo box)")
    # Tab leaves the list without moving the selection.
    selected = pt.find(frame, role="list item", contains="Alice P-256")
    Atspi = pt.atspi()
    check(pt.has_state(selected, Atspi.StateType.SELECTED),
          "Tab changed the selected identity")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(17)
    c.finish()


def _key_accepts(path, passphrase):
    from cryptography.hazmat.primitives.serialization import \
        load_pem_private_key
    with open(path, "rb") as f:
        data = f.read()
    try:
        load_pem_private_key(data, passphrase.encode())
        return True
    except (ValueError, TypeError):
        return False


def case_passphrase_retry(c):
    """A wrong passphrase is reported with the tries left, the entry is
    empty again, and the right passphrase then goes through."""
    key = os.path.join(c.pki, "formats", "p384-traditional-encrypted.key")
    with open(os.path.join(c.pki, "passwords", "plain")) as f:
        right = f.read().strip("\n")
    locked = pt.candidate(c.pki, "p384", locked=True)
    locked["source"] = key
    other = pt.candidate(c.pki, "p256")
    candidates = [locked, other]
    c.start()
    frame = c.show(pt.choose_parameters(6, candidates))
    entry = pt.find(frame, role="password text",
                    name="Passphrase for Alice P-384")
    Atspi = pt.atspi()
    pt.wait_for(lambda: pt.has_state(entry, Atspi.StateType.FOCUSED),
                "the passphrase entry to take the focus")
    send = pt.find(frame, role="push button", name="Send")
    check(not pt.has_state(send, Atspi.StateType.SENSITIVE),
          "Send is available before a passphrase is typed")
    c.shot(frame, "asking")
    check_control_names(frame)

    pt.type_text("wrong horse")
    pt.wait_for(lambda: pt.has_state(send, Atspi.StateType.SENSITIVE),
                "Send to become available")
    c.shot(frame, "typed")
    pt.press("Return")
    reply = c.answer("Choose")
    check(reply.get("id") == locked["id"], f"wrong id: {reply}")
    check(reply.get("passphrase") == "wrong horse",
          f"the typed passphrase did not arrive: {reply}")
    check(not _key_accepts(key, reply["passphrase"]),
          "the wrong passphrase opens the key")

    retry = {"id": locked["id"], "reason": "wrong-passphrase",
             "tries_left": 2}
    frame = c.show(pt.choose_parameters(6, candidates, retry=retry))
    pt.find(frame, role="label", name="Wrong passphrase. 2 tries left.")
    entry = pt.find(frame, role="password text",
                    name="Passphrase for Alice P-384")
    check(pt.character_count(entry) == 0,
          "the passphrase entry was not wiped")
    pt.wait_for(lambda: pt.has_state(entry, Atspi.StateType.FOCUSED),
                "the passphrase entry to take the focus again")
    c.shot(frame, "retry")

    pt.type_text(right)
    pt.press("Return")
    reply = c.answer("Choose after the retry")
    check(reply.get("id") == locked["id"], f"wrong id: {reply}")
    check(_key_accepts(key, reply.get("passphrase") or ""),
          "the second passphrase does not open the key")
    check(pt.character_count(entry) == 0,
          "the passphrase entry keeps the passphrase after sending")
    c.close_dialog(6)
    c.finish()


def case_list_mnemonic(c):
    """Alt+C moves the focus from the passphrase entry to the selected row,
    so that Down then selects the next identity."""
    locked = pt.candidate(c.pki, "p384", locked=True)
    other = pt.candidate(c.pki, "p256")
    c.start()
    frame = c.show(pt.choose_parameters(7, [locked, other]))
    Atspi = pt.atspi()
    entry = pt.find(frame, role="password text",
                    name="Passphrase for Alice P-384")
    pt.wait_for(lambda: pt.has_state(entry, Atspi.StateType.FOCUSED),
                "the passphrase entry to take the focus")

    pt.press("c", modifiers=("Alt_L",))
    first = pt.find(frame, role="list item", contains="Alice P-384")
    pt.wait_for(lambda: pt.has_state(first, Atspi.StateType.FOCUSED),
                "Alt+C to focus the selected row")
    pt.press("Down")
    second = pt.find(frame, role="list item", contains="Alice P-256")
    pt.wait_for(lambda: pt.has_state(second, Atspi.StateType.SELECTED),
                "Down to select the second row")
    c.shot(frame, "second-selected")
    pt.press("Return")
    reply = c.answer("Choose")
    check(reply.get("id") == other["id"],
          f"expected the id of Alice P-256, got {reply}")
    c.close_dialog(7)
    c.finish()


def case_withdrawn(c):
    """Close withdraws a pending Choose: Withdrawn comes first, then the
    reply to Close, and the window goes away."""
    candidates = c.candidates("p256", "rsa2048")
    c.start()
    frame = c.show(pt.choose_parameters(9, candidates))
    c.shot(frame, "shown")
    # Replies leave in call order, so GetInfo waits for the Choose.
    c.picker.send("org.varlink.service.GetInfo")
    check(c.picker.nothing_received(),
          "GetInfo was answered before the pending Choose")
    c.picker.send(PICKER_INTERFACE + ".Close",
                  {"dialog": 9, "reason": "withdrawn"})
    first = c.picker.receive()
    error = pt.expect_error(first, WITHDRAWN, "pending Choose")
    check(error.get("dialog") == 9, f"Withdrawn names {error}")
    info = pt.expect_reply(c.picker.receive(), "GetInfo")
    check(info.get("product") == "certpick-picker", f"GetInfo: {info}")
    pt.expect_reply(c.picker.receive(), "Close")
    pt.wait_for(lambda: pt.window_hidden(c.app), "the window to hide")

    # A Close for a dialog that is not shown changes nothing.
    reply = c.picker.call(PICKER_INTERFACE + ".Close",
                          {"dialog": 9, "reason": "answered"})
    pt.expect_reply(reply, "a second Close")
    c.finish()


def case_dismissed(c):
    """Closing the window (Alt+F4 in openbox) fails Choose with
    Dismissed."""
    candidates = c.candidates("p256")
    c.start()
    c.show(pt.choose_parameters(10, candidates))
    pt.press("F4", modifiers=("Alt_L",))
    error = pt.expect_error(c.picker.receive(), DISMISSED, "Choose")
    check(error.get("dialog") == 10, f"Dismissed names {error}")
    pt.wait_for(lambda: pt.window_hidden(c.app), "the window to hide")
    reply = c.picker.call(PICKER_INTERFACE + ".Close",
                          {"dialog": 10, "reason": "answered"})
    pt.expect_reply(reply, "Close after Dismissed")
    c.finish()


def case_no_ca_names(c):
    """When the server names no CAs the dialog states it and lists
    identities of every issuer."""
    candidates = c.candidates("p256", "other-issuer", accepted_issuers=None)
    check(all(x["eligible"] for x in candidates),
          "identities excluded although the server named no CAs")
    c.start()
    frame = c.show(pt.choose_parameters(11, candidates,
                                        ca_names_given=False))
    pt.find(frame, role="label",
            contains="did not name the certificate authorities")
    pt.find(frame, role="list item", contains="Alice Elsewhere")
    c.shot(frame, "shown")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(11)
    c.finish()


def case_nothing_eligible(c):
    """With no eligible identity the dialog states it, shows the reasons
    and offers to send no certificate, which Enter does."""
    candidates = c.candidates("expired", "other-issuer", "server-eku")
    check(not any(x["eligible"] for x in candidates), "an eligible identity")
    c.start()
    frame = c.show(pt.choose_parameters(12, candidates))
    pt.find(frame, role="label",
            name="No certificate is accepted by this server")
    Atspi = pt.atspi()
    expander = pt.find(frame, role="toggle button",
                       name="3 certificates not accepted by this server")
    check(pt.has_state(expander, Atspi.StateType.EXPANDED),
          "the exclusions are hidden although nothing is eligible")
    pt.find(frame, role="list item", contains="Alice Expired")
    send = pt.find(frame, role="push button", name="Send")
    check(not pt.has_state(send, Atspi.StateType.SENSITIVE),
          "Send is available with nothing to send")
    none = pt.find(frame, role="push button", name="Send No Certificate")
    pt.wait_for(lambda: pt.has_state(none, Atspi.StateType.FOCUSED),
                "Send No Certificate to take the focus")
    c.shot(frame, "shown")
    check_control_names(frame)
    pt.press("Return")
    reply = c.answer("Choose")
    check(reply.get("id") is None, f"expected a null id: {reply}")
    c.close_dialog(12)
    c.finish()


def case_same_names(c):
    """Two identities with the same label are distinguished by serial, and
    the details show the selected certificate."""
    first = pt.candidate(c.pki, "p256", label="Alice at Example")
    second = pt.candidate(c.pki, "rsa2048", label="Alice at Example")
    c.start()
    frame = c.show(pt.choose_parameters(13, [first, second]))
    pt.find(frame, role="list item",
            contains=f"Alice at Example, Serial {first['serial']}")
    pt.find(frame, role="list item",
            contains=f"Alice at Example, Serial {second['serial']}")
    Atspi = pt.atspi()
    details = pt.find(frame, role="toggle button", name="Certificate Details")
    pt.do_action(details, "activate")
    pt.wait_for(lambda: pt.has_state(details, Atspi.StateType.EXPANDED),
                "the details to expand")
    pt.find(frame, role="label", name=first["subject"])
    pt.find(frame, role="label", contains=first["sha256_fingerprint"][:47])
    pt.find(frame, role="label", name="Digital signature")
    pt.find(frame, role="label", name="TLS client authentication")
    c.shot(frame, "details")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(13)
    c.finish()


def case_expiring_soon(c):
    """An identity that expires within a month shows a warning with the
    days left."""
    import datetime
    soon = pt.candidate(c.pki, "p256")
    # The certificate itself runs for years: only the date that certpickd
    # would send changes, which is all the dialog reads.
    not_after = datetime.datetime.utcnow() + datetime.timedelta(days=5,
                                                                hours=1)
    soon["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    c.start()
    frame = c.show(pt.choose_parameters(18, [soon]))
    row = pt.find(frame, role="list item", contains="Alice P-256")
    check("Expires in 5 days" in row.get_name(),
          f"no warning in the row {row.get_name()!r}")
    pt.find(row, role="icon", name="Warning")
    c.shot(frame, "shown")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(18)
    c.finish()


OMITTED_ELIGIBLE_LINE = ("40 more eligible certificates are not listed. Run "
                         "“certpick match” to see all.")
OMITTED_EXCLUDED_NOTE = ("Run “certpick match” to see every certificate and "
                         "why it is not accepted.")


def showing_label(frame, name):
    """Returns True when a label with this exact text is on screen."""
    Atspi = pt.atspi()
    return any(pt.role_name(node) == "label" and node.get_name() == name and
               pt.has_state(node, Atspi.StateType.SHOWING)
               for node in pt.walk(frame))


def case_omitted_candidates(c):
    """A Choose call that leaves identities out, as certpickd sends for a
    large store, makes the dialog state how many in words: in the title of
    the excluded identities and in a line under the list."""
    candidates = c.candidates("p256", "rsa2048", "expired", "other-issuer")
    parameters = pt.choose_parameters(19, candidates)
    parameters["omitted_eligible"] = 40
    parameters["omitted_excluded"] = 1148
    c.start()
    frame = c.show(parameters)
    pt.find(frame, role="label", name=OMITTED_ELIGIBLE_LINE)
    title = "1,150 certificates not accepted by this server, 1,148 not listed"
    expander = pt.find(frame, role="toggle button", name=title)
    eligible = pt.find(frame, role="list box",
                       name="Certificates accepted by this server")
    check(len(pt.find_all(eligible, "list item")) == 2,
          "the list does not show the two eligible identities")
    c.shot(frame, "collapsed")
    check_control_names(frame)

    Atspi = pt.atspi()
    pt.do_action(expander, "activate")
    pt.wait_for(lambda: pt.has_state(expander, Atspi.StateType.EXPANDED),
                "the expander to expand")
    pt.find(frame, role="label", name=OMITTED_EXCLUDED_NOTE)
    pt.find(frame, role="list item", contains="Alice Expired", showing=False)
    c.shot(frame, "expanded")
    pt.press("Return")
    reply = c.answer("Choose")
    check(reply.get("id") == candidates[0]["id"],
          f"expected the id of the first eligible identity: {reply}")
    c.close_dialog(19)

    # Every excluded identity left out, none listed: the title still
    # counts them, and the line about eligible ones is gone.
    parameters = pt.choose_parameters(20, candidates[:1])
    parameters["omitted_excluded"] = 1200
    frame = c.show(parameters)
    title = "1,200 certificates not accepted by this server, none listed"
    expander = pt.find(frame, role="toggle button", name=title)
    check(not showing_label(frame, OMITTED_ELIGIBLE_LINE),
          "the line about omitted eligible identities is still shown")
    pt.do_action(expander, "activate")
    pt.wait_for(lambda: pt.has_state(expander, Atspi.StateType.EXPANDED),
                "the expander to expand")
    pt.find(frame, role="label", name=OMITTED_EXCLUDED_NOTE)
    c.shot(frame, "none-listed")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(20)
    c.finish()


def case_countdown(c):
    """The countdown shows the time left. At zero the dialog disables its
    actions, and certpickd's Close withdraws it."""
    candidates = c.candidates("p256")
    c.start()
    frame = c.show(pt.choose_parameters(14, candidates, timeout=2))
    label = pt.find(frame, role="label", contains="Closes in 0:0")
    c.shot(frame, "running")
    pt.wait_for(lambda: label.get_name() == "Timed out",
                "the countdown to end", timeout=10)
    Atspi = pt.atspi()
    send = pt.find(frame, role="push button", name="Send")
    check(not pt.has_state(send, Atspi.StateType.SENSITIVE),
          "Send is available after the timeout")
    c.shot(frame, "timed-out")
    c.picker.send(PICKER_INTERFACE + ".Close",
                  {"dialog": 14, "reason": "timed-out"})
    pt.expect_error(c.picker.receive(), WITHDRAWN, "Choose after timeout")
    pt.expect_reply(c.picker.receive(), "Close")
    c.finish()


def _window_property(xid, name):
    import subprocess
    xprop = pt.require_program("xprop", "x11-utils")
    return subprocess.run([xprop, "-id", str(xid), name],
                          capture_output=True, text=True).stdout


def _active_window():
    import subprocess
    xprop = pt.require_program("xprop", "x11-utils")
    out = subprocess.run([xprop, "-root", "_NET_ACTIVE_WINDOW"],
                         capture_output=True, text=True).stdout
    return int(out.rsplit(" ", 1)[-1], 16)


def case_parent_window(c):
    """With parent_window the dialog is transient for that window, and
    without it the dialog is transient for no window."""
    gdk, gdk_x11 = pt.gdk_modules()
    attributes = gdk.WindowAttr()
    attributes.width, attributes.height = 300, 200
    attributes.window_type = gdk.WindowType.TOPLEVEL
    attributes.wclass = gdk.WindowWindowClass.INPUT_OUTPUT
    parent = gdk.Window.new(gdk.get_default_root_window(), attributes, 0)
    parent.show()
    gdk.flush()
    parent_xid = gdk_x11.X11Window.get_xid(parent)

    candidates = c.candidates("p256")
    c.start()
    c.show(pt.choose_parameters(15, candidates,
                                parent_window=f"x11:{parent_xid:x}"))
    xid = pt.wait_for(_active_window, "an active window")
    transient = _window_property(xid, "WM_TRANSIENT_FOR")
    check(f"0x{parent_xid:x}" in transient,
          f"the dialog is not transient for 0x{parent_xid:x}: {transient}")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(15)

    c.show(pt.choose_parameters(16, candidates))
    xid = pt.wait_for(_active_window, "an active window")
    transient = _window_property(xid, "WM_TRANSIENT_FOR")
    check("not found" in transient or "0x" not in transient,
          f"the dialog is still transient: {transient}")
    pt.press("Escape")
    c.answer("Choose")
    c.close_dialog(16)
    c.finish()


def case_protocol(c):
    """GetInfo, GetInterfaceDescription, invalid calls and replies in call
    order, with no display: Choose then fails with DisplayUnavailable."""
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    picker = pt.Picker(c.picker_path, env=env, trace=False, leaks=True)
    c.picker = picker

    info = pt.expect_reply(picker.call("org.varlink.service.GetInfo"),
                           "GetInfo")
    check(info.get("product") == "certpick-picker", f"GetInfo: {info}")
    check(info.get("interfaces") == ["org.varlink.service",
                                     PICKER_INTERFACE], f"GetInfo: {info}")

    source_root = os.environ.get("CERTPICK_SOURCE_ROOT",
                                 os.path.join(os.path.dirname(__file__),
                                              "..", ".."))
    with open(os.path.join(source_root, "proto",
                           "org.certpick.Picker.varlink")) as f:
        definition = f.read()
    description = pt.expect_reply(picker.call(
        "org.varlink.service.GetInterfaceDescription",
        {"interface": PICKER_INTERFACE}), "GetInterfaceDescription")
    check(description.get("description") == definition,
          "GetInterfaceDescription differs from the .varlink file")
    pt.expect_error(picker.call(
        "org.varlink.service.GetInterfaceDescription",
        {"interface": "org.example.Nothing"}),
        "org.varlink.service.InterfaceNotFound", "unknown interface")
    pt.expect_error(picker.call("org.example.Nothing.Do"),
                    "org.varlink.service.InterfaceNotFound",
                    "call to an unknown interface")
    error = pt.expect_error(picker.call(PICKER_INTERFACE + ".Frobnicate"),
                            "org.varlink.service.MethodNotFound",
                            "unknown method")
    check(error.get("method") == PICKER_INTERFACE + ".Frobnicate",
          f"MethodNotFound names {error}")

    parameters = pt.choose_parameters(1, [pt.candidate(c.pki, "p256")])
    broken = dict(parameters, timeout="soon")
    error = pt.expect_error(picker.call(PICKER_INTERFACE + ".Choose",
                                        broken),
                            "org.varlink.service.InvalidParameter",
                            "Choose with a string timeout")
    check(error.get("parameter") == "timeout", f"wrong path in {error}")
    broken = dict(parameters, remember_scopes=["once", "forever"])
    error = pt.expect_error(picker.call(PICKER_INTERFACE + ".Choose",
                                        broken),
                            "org.varlink.service.InvalidParameter",
                            "Choose with an unknown scope")
    check(error.get("parameter") == "remember_scopes[1]",
          f"wrong path in {error}")

    error = pt.expect_error(picker.call(PICKER_INTERFACE + ".Choose",
                                        parameters),
                            PICKER_INTERFACE + ".DisplayUnavailable",
                            "Choose without a display")
    check("display" in error.get("reason", ""), f"reason: {error}")

    # A oneway call gets no reply; the next call's reply comes next.
    picker.send("org.varlink.service.GetInfo", oneway=True)
    pt.expect_reply(picker.call(PICKER_INTERFACE + ".Close",
                                {"dialog": 1, "reason": "answered"}),
                    "Close")
    check(picker.nothing_received(), "a reply to a oneway call")
    c.finish()

    # Input that is not Varlink ends the connection with status 1.
    picker = pt.Picker(c.picker_path, env=env, trace=False, leaks=True)
    picker.sock.sendall(b"{\"method\": 3}\0")
    status = picker.process.wait(20)
    check(status == 1, f"the picker exited with {status} after garbage")
    # The readers may still hold the last lines of the exited picker.
    for reader in picker.readers:
        reader.join(10)
    check(any("not a Varlink call" in line for line in picker.log),
          "no log line says why the connection closed")
    picker.sock.close()


CASES = {
    "second-identity": case_second_identity,
    "mouse-select": case_mouse_select,
    "escape": case_escape,
    "remember-always": case_remember_always,
    "excluded-reasons": case_excluded_reasons,
    "passphrase-retry": case_passphrase_retry,
    "list-mnemonic": case_list_mnemonic,
    "withdrawn": case_withdrawn,
    "dismissed": case_dismissed,
    "no-ca-names": case_no_ca_names,
    "nothing-eligible": case_nothing_eligible,
    "same-names": case_same_names,
    "countdown": case_countdown,
    "parent-window": case_parent_window,
    "tab-order": case_tab_order,
    "expiring-soon": case_expiring_soon,
    "omitted-candidates": case_omitted_candidates,
}

# Cases that need no X server.
HEADLESS = {"protocol": case_protocol}


def main(argv):
    if len(argv) != 5 or argv[4] not in {**CASES, **HEADLESS}:
        names = ", ".join(sorted({**CASES, **HEADLESS}))
        print(f"usage: {argv[0]} PICKER PKI_DIR SCREENSHOT_DIR CASE\n"
              f"CASE is one of {names}", file=sys.stderr)
        return 2
    picker_path, pki, shots, name = argv[1:]
    case = Case(os.path.abspath(picker_path), pki, shots, name)
    if name in HEADLESS:
        try:
            HEADLESS[name](case)
            return 0
        except pt.Failure as failure:
            print(f"FAIL: {failure}", file=sys.stderr)
            return 1
        finally:
            if case.picker:
                case.picker.kill()

    try:
        pt.in_private_session(argv)
    except pt.Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    os.makedirs(shots, exist_ok=True)
    session = None
    try:
        session = pt.WindowManager()
        pt.atspi()
        CASES[name](case)
        return 0
    except pt.Skip as skip:
        print(f"SKIP: {skip}", file=sys.stderr)
        return pt.SKIP
    except pt.Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        traceback.print_exc()
        if case.app is not None:
            print("The picker's accessible tree:", file=sys.stderr)
            try:
                pt.dump(case.app)
            except Exception as error:
                print(f"(cannot read it: {error})", file=sys.stderr)
        return 1
    finally:
        if case.picker:
            case.picker.kill()
        if session:
            session.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""Remembered decisions. The scopes are once, session and always, and "no
certificate" is kept for the session at most. "always" decisions are kept
in decisions.json across a restart. Forgetting (ForgetDecisions,
ReportRejected, certpick forget) is announced to WatchDecisions
subscribers. A remembered identity that is gone or no longer eligible is
ignored, and the person is asked."""

import json
import os
import stat

from daemontest import (Client, Daemon, Picker, check, check_equal,
                        name_der_base64, pki, run)


def select(home, host, port=443, **extra):
    client = Client(home.socket)
    reply = client.call("Select", {"host": host, "port": port, **extra})
    return client, reply


def answered_by(home, host, **extra):
    client, reply = select(home, host, **extra)
    client.close()
    if "error" in reply:
        return reply["error"].split(".")[-1]
    return reply["parameters"]["decided_by"]


def decisions_by_host(client):
    reply = client.call("ListDecisions")
    return {d["host"]: d for d in reply["parameters"]["decisions"]}


def test(home):
    p256 = home.import_identity("p256")
    rsa = home.import_identity("rsa2048")
    home.import_identity("other-issuer")
    picker = Picker(home, {"by_host": {
        "keep.test": {"choose": "label:Alice P-256", "remember": "always"},
        "sess.test": {"choose": "label:Alice RSA-2048",
                      "remember": "session"},
        "once.test": {"choose": "label:Alice P-256", "remember": "once"},
        "none.test": {"choose": None, "remember": "always"},
        "gone.test": {"choose": "label:Alice RSA-2048",
                      "remember": "always"},
        "moved.test": {"choose": "label:Alice P-256", "remember": "always"},
    }, "default": {"choose": "first-eligible"}})
    daemon = Daemon(home, picker).start()

    for host in ("keep.test", "sess.test", "once.test", "gone.test",
                 "moved.test"):
        check_equal(answered_by(home, host), "picker", f"first {host}")
    check_equal(answered_by(home, "none.test"), "NoCertificate",
                "declined none.test")
    daemon.wait_for_log("for this session only, not always")

    # Remembered decisions answer without a dialog; "once" asks again.
    chooses = len(picker.chooses())
    check_equal(answered_by(home, "keep.test"), "decision", "keep.test")
    check_equal(answered_by(home, "sess.test"), "decision", "sess.test")
    check_equal(answered_by(home, "none.test"), "NoCertificate", "none.test")
    check_equal(len(picker.chooses()), chooses, "no dialog for decisions")
    check_equal(answered_by(home, "once.test"), "picker", "once.test")
    check_equal(answered_by(home, "once.test", port=8443), "picker",
                "the decision is for host and port")
    check_equal(answered_by(home, "sess.test", port=8443), "picker",
                "the decision is for host and port")

    # A connection that got an identity through a decision may sign.
    client, reply = select(home, "keep.test")
    sign = client.call("Sign", {"id": p256, "algorithm":
                                "ecdsa_secp256r1_sha256", "data": "AAEC"})
    check("signature" in sign.get("parameters", {}), f"Sign: {sign}")
    client.close()

    client = Client(home.socket)
    listed = decisions_by_host(client)
    check_equal(listed["keep.test"]["scope"], "always", "keep.test scope")
    check_equal(listed["keep.test"]["id"], p256, "keep.test id")
    check_equal(listed["sess.test"]["scope"], "session", "sess.test scope")
    check_equal(listed["none.test"]["scope"], "session",
                "'no certificate' is capped to the session")
    check_equal(listed["none.test"]["id"], None, "none.test id")
    check("once.test" not in listed, "'once' is not remembered")
    client.close()

    # The file contains the "always" decisions only, and is private.
    mode = stat.S_IMODE(os.stat(home.decisions).st_mode)
    check_equal(mode, 0o600, "decisions.json mode")
    dir_mode = stat.S_IMODE(os.stat(os.path.dirname(home.decisions)).st_mode)
    check_equal(dir_mode, 0o700, "decisions folder mode")
    with open(home.decisions) as f:
        saved = json.load(f)
    check_equal(saved["version"], 1, "file version")
    check_equal(sorted(d["host"] for d in saved["decisions"]),
                ["gone.test", "keep.test", "moved.test"], "hosts in the file")
    leftovers = [n for n in os.listdir(os.path.dirname(home.decisions))
                 if n != "decisions.json"]
    check_equal(leftovers, [], "no temporary files left")

    # The command-line tool lists them.
    out = home.cli("decisions").stdout
    check("keep.test:443" in out and "always" in out and
          "Alice P-256" in out, f"certpick decisions: {out}")
    check("(no certificate)" in out, f"declined decision listed: {out}")
    listed_json = json.loads(home.cli("decisions", "--json").stdout)
    check_equal(len(listed_json), 6, "certpick decisions --json")

    # Across a restart, only "always" decisions remain.
    daemon.stop()
    daemon.start()
    client = Client(home.socket)
    check_equal(sorted(decisions_by_host(client)),
                ["gone.test", "keep.test", "moved.test"],
                "decisions after a restart")
    client.close()
    chooses = len(picker.chooses())
    check_equal(answered_by(home, "keep.test"), "decision",
                "keep.test after a restart")
    check_equal(len(picker.chooses()), chooses, "no dialog after restart")
    check_equal(answered_by(home, "sess.test"), "picker",
                "session decision gone after a restart")
    check_equal(answered_by(home, "none.test"), "NoCertificate",
                "none.test asks again after a restart")
    check_equal(len(picker.chooses("none.test")), 2,
                "declining is asked again after a restart")

    # A subscriber hears of every forgotten decision.
    watcher = Client(home.socket)
    watcher.send("org.certpick.Agent.WatchDecisions", more=True)
    first = watcher.receive()
    check_equal(first, {"parameters": {}, "continues": True},
                "subscription confirmed")

    result = home.cli("forget", "https://sess.test/", check_status=False)
    check_equal(result.returncode, 2, "certpick forget with a URL")
    check("give HOST or HOST:PORT, not a URL" in result.stderr,
          f"certpick forget with a URL: {result.stderr}")
    result = home.cli("forget", "::1:24434", check_status=False)
    check_equal(result.returncode, 2, "certpick forget ::1:24434")
    check("write an IPv6 address with a port as [ADDRESS]:PORT"
          in result.stderr, f"certpick forget ::1:24434: {result.stderr}")
    out = home.cli("forget", "sess.test:443").stdout
    check_equal(out.strip(), "forgot 1 decision", "certpick forget")
    # A server with no decision, such as a typing mistake, is named.
    result = home.cli("forget", "sess.tset:443")
    check_equal(result.stdout.strip(), "forgot 0 decisions",
                "certpick forget of an unknown server")
    check("no decision is remembered for 'sess.tset:443'" in result.stderr,
          f"certpick forget of an unknown server: {result.stderr!r}")
    check("certpick decisions" in result.stderr,
          f"certpick forget of an unknown server: {result.stderr!r}")
    check_equal(watcher.receive(),
                {"parameters": {"host": "sess.test", "port": 443},
                 "continues": True}, "announced forget")

    client = Client(home.socket)
    reply = client.call("ReportRejected", {"id": rsa, "host": "keep.test",
                                           "port": 443})
    check_equal(reply, {"parameters": {}}, "ReportRejected for another id")
    check("keep.test" in decisions_by_host(client),
          "a rejection of another identity keeps the decision")
    reply = client.call("ReportRejected", {"id": p256, "host": "keep.test",
                                           "port": 443, "alert": 42})
    check_equal(reply, {"parameters": {}}, "ReportRejected")
    check("keep.test" not in decisions_by_host(client),
          "the rejected decision is dropped")
    check_equal(watcher.receive()["parameters"],
                {"host": "keep.test", "port": 443}, "announced rejection")
    with open(home.decisions) as f:
        check("keep.test" not in f.read(), "dropped from the file too")
    check_equal(answered_by(home, "keep.test"), "picker",
                "asked again after the rejection")

    # A remembered identity that left the store is ignored.
    home.cli("remove", "--store", home.store, rsa)
    picker.set_script({"default": {"choose": "first-eligible"}})
    chooses = len(picker.chooses("gone.test"))
    check_equal(answered_by(home, "gone.test"), "picker", "gone.test")
    check_equal(len(picker.chooses("gone.test")), chooses + 1,
                "the person is asked when the identity is gone")
    daemon.wait_for_log("is no longer in the store")

    # A remembered identity that is no longer eligible is ignored.
    other_ca = [name_der_base64(pki("ca", "other-root.pem"))]
    check_equal(answered_by(home, "moved.test", ca_names=other_ca), "picker",
                "moved.test with another CA")
    daemon.wait_for_log("is not eligible (issuer-not-accepted)")

    out = home.cli("forget", "--all").stdout
    check(out.startswith("forgot "), f"certpick forget --all: {out}")
    client.call("ListDecisions")
    check_equal(decisions_by_host(client), {}, "everything forgotten")
    client.close()
    watcher.close()
    daemon.stop()


run(test)

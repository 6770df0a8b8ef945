#!/usr/bin/python3
"""Text that peers control reaches the picker as valid UTF-8 without
control characters, and never fails the dialog. The cases are the
requester's process name, and the server certificate's organization and
common name in string types other than UTF8String (T61String with Latin-1
bytes, BMPString). Error names from the picker, quoted and cut in the
reason of PickerFailed, leave that reason valid UTF-8 too. A client's
ids and member names that certpickd logs cannot forge log lines."""

import base64
import ctypes
import os
import subprocess

from daemontest import Client, Daemon, Picker, check, check_equal, run

PR_SET_NAME = 15
PR_GET_NAME = 16


def set_process_name(name):
    """Renames the calling thread, which /proc/PID/comm shows for the main
    thread. Returns the old name."""
    libc = ctypes.CDLL(None, use_errno=True)
    old = ctypes.create_string_buffer(16)
    check(libc.prctl(PR_GET_NAME, old, 0, 0, 0) == 0, "prctl PR_GET_NAME")
    check(libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) == 0,
          "prctl PR_SET_NAME")
    return old.value


def certificate_base64(home, name, string_mask, organization):
    """A self-signed server certificate whose organization OpenSSL encodes
    by string_mask: "nombstr" gives a T61String of Latin-1 bytes for
    non-ASCII text, "default" a BMPString."""
    config = os.path.join(home.root, name + ".cnf")
    with open(config, "w", encoding="utf-8") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\nutf8 = yes\n"
                f"string_mask = {string_mask}\n"
                f"[dn]\nO = {organization}\nCN = server.test\n")
    der = subprocess.run(
        ["openssl", "req", "-x509", "-config", config, "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         os.path.join(home.root, name + ".key"), "-days", "30",
         "-outform", "DER"],
        check=True, capture_output=True).stdout
    return base64.b64encode(der).decode()


def select(home, host, **extra):
    client = Client(home.socket)
    reply = client.call("Select", {"host": host, "port": 443, **extra})
    client.close()
    return reply


def test(home):
    home.import_identity("p256")
    # The reasons quote at most 100 and 200 bytes of the error name; both
    # cuts fall inside a two-byte character.
    picker = Picker(home, {"default": {"choose": None}, "by_host": {
        "unknown-error.test": {"error": "x" + "É" * 100},
        "other-error.test": {"error": "org.example.x" + "É" * 100},
    }})
    daemon = Daemon(home, picker).start()

    # Not UTF-8, with an escape sequence: a process may call itself so.
    old_name = set_process_name(b"\xff\xfecurl\x1b[31m")
    try:
        reply = select(home, "name.test")
    finally:
        set_process_name(old_name)
    check_equal(reply.get("error"), "org.certpick.Agent.NoCertificate",
                "Select from a process whose name is not UTF-8")
    requester = picker.chooses("name.test")[0]["parameters"]["requester"]
    check_equal(requester["name"], "??curl?[31m", "requester name")

    cases = [
        ("t61.test", "nombstr", "Société Générale"),
        ("bmp.test", "default", "Ünïcödé 証明書"),
    ]
    for host, mask, organization in cases:
        certificate = certificate_base64(home, host, mask, organization)
        reply = select(home, host, server_certificate=certificate)
        check_equal(reply.get("error"), "org.certpick.Agent.NoCertificate",
                    f"Select with a {mask} organization")
        server = picker.chooses(host)[0]["parameters"]["server"]
        check_equal(server.get("organization"), organization,
                    f"organization from the {mask} certificate")
        check_equal(server.get("common_name"), "server.test",
                    f"common name from the {mask} certificate")

    # NotPermitted logs the id at notice level, InvalidParameter the
    # member's name at debug level.
    client = Client(home.socket)
    reply = client.call("Sign", {"id": "x\nforged: notice\x1b[2J",
                                 "algorithm": "ed25519", "data": ""})
    check_equal(reply.get("error"), "org.certpick.Agent.NotPermitted",
                "Sign with an id of several lines")
    reply = client.call("Select", {"host": "a.test", "port": 443,
                                   "x\nforged: debug": 1})
    check_equal(reply["parameters"], {"parameter": "x\nforged: debug"},
                "InvalidParameter names the member")
    client.close()
    log = daemon.wait_for_log("x?forged: debug")
    check("x?forged: notice?[2J" in log, f"the id logged on one line:\n{log}")
    check(not any(line.startswith("forged") for line in log.splitlines()),
          f"no forged log line:\n{log}")

    for host in ("unknown-error.test", "other-error.test"):
        reply = select(home, host)
        check_equal(reply.get("error"), "org.certpick.Agent.PickerFailed",
                    f"picker error for {host}")
        reason = reply["parameters"].get("reason", "")
        check("org." in reason and "É?" in reason,
              f"reason for {host} marks where it was cut: {reason!r}")
    daemon.stop()


run(test)

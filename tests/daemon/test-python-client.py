#!/usr/bin/python3
"""Another program asks certpickd for a certificate: a client written with
only the socket and json modules calls Select, as data/doc/protocol.md
shows, and the picker sees who asked and for which server."""

import json
import os
import socket
import sys

from daemontest import (Daemon, Picker, check, check_equal,
                        der_base64_of_pem, name_der_base64, pki, run)


def varlink_call(path, method, parameters):
    """The whole client: one call, one reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        message = {"method": method, "parameters": parameters}
        sock.sendall(json.dumps(message).encode() + b"\0")
        reply = b""
        while not reply.endswith(b"\0"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("certpickd closed the connection")
            reply += chunk
        return json.loads(reply[:-1])


def test(home):
    home.import_identity("p256")
    home.import_identity("rsa2048")
    home.import_identity("other-issuer")
    picker = Picker(home, {"default": {"choose": "label:Alice RSA-2048"}})
    daemon = Daemon(home, picker).start()

    inter = name_der_base64(pki("ca", "inter.pem"))
    server_cert = der_base64_of_pem(pki("server", "cert.pem"))
    reply = varlink_call(home.socket, "org.certpick.Agent.Select", {
        "host": "WWW.Example.TEST.", "port": 8443, "ca_names": [inter],
        "sigalgs": ["rsa_pss_rsae_sha256", "ecdsa_secp256r1_sha256"],
        "tls_version": "TLSv1.3", "server_certificate": server_cert,
        "parent_window": "x11:0x1234"})
    check("error" not in reply, f"Select failed: {reply}")
    result = reply["parameters"]
    check_equal(result["decided_by"], "picker", "decided_by")
    check_equal(result["label"], "Alice RSA-2048", "label")
    check_equal(result["key_type"], "RSA", "key_type")
    check_equal(result["chain"][0],
                der_base64_of_pem(pki("leaves", "rsa2048", "cert.pem")),
                "leaf certificate")
    check_equal(result["chain"][1], der_base64_of_pem(pki("ca", "inter.pem")),
                "intermediate after the leaf")

    choose = picker.chooses()[0]["parameters"]
    check_equal(choose["server"], {
        "host": "www.example.test", "port": 8443,
        "organization": "certpick test server", "common_name": "localhost"},
        "server shown to the person (host normalized)")
    check_equal(choose["requester"]["pid"], os.getpid(), "requester pid")
    with open("/proc/self/comm") as f:
        check_equal(choose["requester"]["name"], f.read().strip(),
                    "requester command name")
    check_equal(choose["requester"]["executable"],
                os.path.realpath(sys.executable), "requester executable")
    check_equal(choose["ca_names_given"], True, "ca_names_given")
    check_equal(choose["parent_window"], "x11:0x1234", "parent_window")
    check_equal(choose["remember_scopes"], ["once", "session", "always"],
                "remember scopes")
    check(0 < choose["timeout"] <= 120, "timeout within the default")
    by_label = {c["label"]: c for c in choose["candidates"]}
    check_equal(by_label["Alice RSA-2048"]["eligible"], True,
                "RSA-2048 (issued by the intermediate) is eligible")
    check_equal(by_label["Alice P-256"]["eligible"], True,
                "P-256 (issued by the intermediate) is eligible")
    check_equal(by_label["Alice Elsewhere"]["eligible"], False,
                "the other issuer is excluded")
    check_equal(by_label["Alice Elsewhere"]["reasons"],
                ["issuer-not-accepted"], "reason for the other issuer")
    check_equal([c["eligible"] for c in choose["candidates"]],
                [True, True, False], "eligible candidates come first")

    start = picker.starts()[0]
    check_equal(start["fd"], 3, "CERTPICK_PICKER_FD")
    check_equal(start["stdin_is_null"], True, "picker stdin is /dev/null")
    close = picker.wait_for_close("answered")
    check_equal(close[0]["parameters"]["dialog"], choose["dialog"],
                "Close names the dialog")

    # No identity fits: the answer comes without a dialog.
    reply = varlink_call(home.socket, "org.certpick.Agent.Select", {
        "host": "none.test", "port": 443,
        "ca_names": [name_der_base64(pki("ca", "server-ca.pem"))]})
    check_equal(reply.get("error"), "org.certpick.Agent.NoCertificate",
                "no eligible identity")
    check_equal(reply["parameters"], {"reason": "none-eligible"},
                "NoCertificate reason")
    check_equal(len(picker.chooses()), 1, "no dialog without candidates")
    daemon.stop()


run(test)

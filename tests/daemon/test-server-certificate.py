#!/usr/bin/python3
"""The server certificate in Select. certpickd keeps the names of the
certificates it has read. A certificate sent again shows the same names in
the dialog, and another certificate shows its own. A broken one is still an
invalid parameter, also after a valid one was read."""

import base64

from daemontest import (Client, Daemon, Picker, check_equal,
                        der_base64_of_pem, error_of, pki, run)

INVALID = "org.varlink.service.InvalidParameter"


def select(client, host, certificate):
    return client.call("Select", {"host": host, "port": 443,
                                  "server_certificate": certificate})


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {"choose": "label:Alice P-256"}})
    daemon = Daemon(home, picker).start()
    client = Client(home.socket)
    server = der_base64_of_pem(pki("server", "cert.pem"))
    inter = der_base64_of_pem(pki("ca", "inter.pem"))
    truncated = base64.b64encode(base64.b64decode(server)[:-16]).decode()
    server_names = {"organization": "certpick test server",
                    "common_name": "localhost"}

    for host in ("first.test", "again.test"):
        reply = select(client, host, server)
        check_equal(reply["parameters"].get("decided_by"), "picker",
                    f"Select for {host}")
        dialog_server = picker.chooses(host)[0]["parameters"]["server"]
        check_equal({k: dialog_server.get(k) for k in server_names},
                    server_names, f"server names shown for {host}")

    reply = select(client, "other.test", inter)
    check_equal(reply["parameters"].get("decided_by"), "picker",
                "Select with another certificate")
    dialog_server = picker.chooses("other.test")[0]["parameters"]["server"]
    check_equal(dialog_server.get("common_name"),
                "certpick Test Intermediate CA",
                "common name of the other certificate")

    reply = select(client, "broken.test", truncated)
    check_equal(error_of(reply), INVALID, "truncated certificate")
    check_equal(reply["parameters"], {"parameter": "server_certificate"},
                "invalid parameter named")
    check_equal(picker.chooses("broken.test"), [],
                "no dialog for a broken certificate")

    reply = select(client, "last.test", server)
    dialog_server = picker.chooses("last.test")[0]["parameters"]["server"]
    check_equal({k: dialog_server.get(k) for k in server_names},
                server_names, "server names after a broken certificate")
    client.close()
    daemon.stop()


run(test)

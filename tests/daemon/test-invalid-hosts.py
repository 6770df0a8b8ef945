#!/usr/bin/python3
"""A host with an empty label (".", "a..b", a dot at its start or two at
its end) or with brackets around a name gets InvalidParameter "host" from
every method that takes one, rather than a decision that no later request
could match. Valid forms are normalized: case, one trailing dot, the
brackets of an IPv6 address. A policy pattern with such a host is skipped
with a warning."""

import json

from daemontest import Client, Daemon, Picker, check, check_equal, run

INVALID = [".", "..", "a..b", ".a.test", "b.test..", "[a.test]", "[]",
           "a b", "caf\u00e9.test"]


def calls(host):
    return [("Select", {"host": host, "port": 443}),
            ("Match", {"host": host}),
            ("ForgetDecisions", {"host": host}),
            ("ReportRejected", {"id": "0" * 64, "host": host, "port": 443})]


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {"remember": "session"}})
    policy = {"AutoSelectCertificateForUrls": [
        json.dumps({"pattern": "two.dots.test..", "filter": {}}),
        json.dumps({"pattern": "[*.]a..b", "filter": {}}),
    ]}
    daemon = Daemon(home, picker, policy=policy).start()
    log = daemon.log()
    check("loaded 0 auto-select rules" in log,
          f"the patterns with empty labels are skipped:\n{log}")
    for index, pattern in enumerate(("two.dots.test..", "[*.]a..b")):
        check(f"ignoring entry {index}, pattern '{pattern}': the host has "
              "an empty label" in log,
              f"policy entry {index} is named in a warning:\n{log}")

    client = Client(home.socket)
    for host in INVALID:
        for method, parameters in calls(host):
            reply = client.call(method, parameters)
            check_equal(reply.get("error"),
                        "org.varlink.service.InvalidParameter",
                        f"{method} with host {host!r}")
            check_equal(reply["parameters"], {"parameter": "host"},
                        f"{method} with host {host!r}")

    # The valid forms of one server share one decision.
    reply = client.call("Select", {"host": "Normal.Test.", "port": 443})
    check("error" not in reply, f"Select for Normal.Test.: {reply}")
    reply = client.call("Select", {"host": "normal.test", "port": 443})
    check_equal(reply["parameters"].get("decided_by"), "decision",
                "the decision made for Normal.Test.")
    reply = client.call("Select", {"host": "[::1]", "port": 443})
    check("error" not in reply, f"Select for [::1]: {reply}")
    hosts = [d["host"] for d in
             client.call("ListDecisions")["parameters"]["decisions"]]
    check_equal(sorted(hosts), ["::1", "normal.test"], "hosts remembered")
    client.close()
    check_equal(len(picker.chooses()), 2, "Choose calls")
    daemon.stop()


run(test)

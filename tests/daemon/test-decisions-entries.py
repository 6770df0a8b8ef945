#!/usr/bin/python3
"""An invalid entry of the decisions file is left out with a warning that
names it, and the other entries still apply: the file is copied aside and
rewritten with them. Hosts are normalized as a Select's host is, so that
"EXAMPLE.com." matches and can be forgotten. A FIFO or an oversized file
does not stop certpickd: it is moved aside. A file of many entries loads
in about a second."""

import glob
import json
import os
import time

from daemontest import Client, Daemon, Picker, check, check_equal, run

CREATED = "2024-01-01T00:00:00Z"


def entry(host, port, identity_id, label="Alice P-256"):
    return {"host": host, "port": port, "id": identity_id, "label": label,
            "created": CREATED}


def servers(client):
    reply = client.call("ListDecisions")["parameters"]["decisions"]
    return [(d["host"], d["port"], d["id"]) for d in reply]


def write(home, content):
    with open(home.decisions, "w") as f:
        f.write(content)


def asides(home):
    return sorted(glob.glob(home.decisions + ".corrupt-*"))


def remove_asides(home):
    for path in asides(home):
        os.unlink(path)


def invalid_entries(home, picker, p256):
    other = "f" * 64
    content = json.dumps({"version": 1, "decisions": [
        entry("a.test", 443, p256),
        entry("EXAMPLE.com.", 8443, p256),
        entry(".", 443, p256),
        entry("a..b", 443, p256),
        entry("b.test..", 443, p256),
        entry("a.test", 443, other),
        entry("c.test", 443, p256, label="\u001b[31mred"),
        entry("d.test", 0, p256),
    ]})
    write(home, content)
    daemon = Daemon(home, picker).start()
    log = daemon.wait_for_log("ignored 6 invalid entries")
    for index, reason in [(2, "host"), (3, "host"), (4, "host"),
                          (5, "same host and port"), (6, "label"),
                          (7, "port")]:
        lines = [line for line in log.splitlines()
                 if f"ignoring entry {index}:" in line]
        check(lines, f"entry {index} is named in a warning:\n{log}")
        check(reason in lines[0], f"entry {index}: {lines[0]}")
        check("warning:" in lines[0], f"entry {index} at warning level")

    client = Client(home.socket)
    check_equal(servers(client), [("a.test", 443, p256),
                                  ("example.com", 8443, p256)],
                "the valid entries, the host normalized")
    copies = asides(home)
    check_equal(len(copies), 1, "copies of the file kept")
    with open(copies[0]) as f:
        check_equal(f.read(), content, "the copy of the file")
    with open(home.decisions) as f:
        saved = json.load(f)["decisions"]
    check_equal([(d["host"], d["port"]) for d in saved],
                [("a.test", 443), ("example.com", 8443)],
                "the rewritten file")

    reply = client.call("Select", {"host": "Example.COM", "port": 8443})
    check_equal(reply["parameters"].get("decided_by"), "decision",
                f"the normalized decision applies: {reply}")
    reply = client.call("ForgetDecisions", {"host": "EXAMPLE.com."})
    check_equal(reply["parameters"], {"forgotten": 1},
                "the normalized decision can be forgotten")
    client.close()
    daemon.stop()
    check_equal(picker.chooses(), [], "Choose calls")
    remove_asides(home)


def whole_file_moved(home, picker, name, make):
    if os.path.lexists(home.decisions):
        os.unlink(home.decisions)
    make()
    daemon = Daemon(home, picker).start()
    log = daemon.wait_for_log("moved it to")
    check(name in log, f"{name}: the reason is logged:\n{log}")
    check_equal(len(asides(home)), 1, f"{name}: moved aside")
    client = Client(home.socket)
    check_equal(servers(client), [], f"{name}: no decisions")
    client.close()
    daemon.stop()
    remove_asides(home)


def many_entries(home, picker, p256):
    count = 60000
    decisions = [entry(f"h{i}.test", 443, p256) for i in range(count)]
    decisions.append(entry("h7.test", 443, p256))
    write(home, json.dumps({"version": 1, "decisions": decisions}))
    start = time.monotonic()
    daemon = Daemon(home, picker).start()
    client = Client(home.socket)
    # ListDecisions would not fit in a message; forgetting counts them.
    reply = client.call("ForgetDecisions", {"all": True})
    elapsed = time.monotonic() - start
    check_equal(reply["parameters"], {"forgotten": count},
                "decisions loaded")
    # Comparing every pair of entries took 6 s for 60,000 on a 2-core
    # machine; sorting takes well under a second, sanitizers included.
    check(elapsed < 4, f"{count} decisions loaded in {elapsed:.1f} s")
    client.close()
    daemon.stop()
    remove_asides(home)


def test(home):
    p256 = home.import_identity("p256")
    picker = Picker(home, {"default": {"wait": True}})
    os.makedirs(os.path.dirname(home.decisions), mode=0o700)

    invalid_entries(home, picker, p256)
    whole_file_moved(home, picker, "not a regular file",
                     lambda: os.mkfifo(home.decisions, 0o600))

    def oversized():
        with open(home.decisions, "w") as f:
            f.truncate(17 * 1024 * 1024)
    whole_file_moved(home, picker, "larger than 16 MiB", oversized)
    many_entries(home, picker, p256)


run(test)

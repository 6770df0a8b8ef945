#!/usr/bin/python3
"""A decisions file that is not valid is moved aside with a warning: the
daemon starts with no decisions, keeps the bad file for the person, asks
the person again, and writes a fresh file for the next "always"."""

import glob
import json
import os

from daemontest import Client, Daemon, Picker, check, check_equal, run

BAD_FILES = [
    ("not JSON", "{\"version\": 1, \"decisions\": [\n"),
    ("wrong version", json.dumps({"version": 7, "decisions": []})),
    ("bad port", json.dumps({"version": 1, "decisions": [
        {"host": "a.test", "port": 0, "id": "0" * 64, "label": "x",
         "created": "2024-01-01T00:00:00Z"}]})),
    ("bad id", json.dumps({"version": 1, "decisions": [
        {"host": "a.test", "port": 443, "id": "xyz", "label": "x",
         "created": "2024-01-01T00:00:00Z"}]})),
    ("unknown member", json.dumps({"version": 1, "decisions": [
        {"host": "a.test", "port": 443, "id": "0" * 64, "label": "x",
         "created": "2024-01-01T00:00:00Z", "extra": 1}]})),
]


def test(home):
    p256 = home.import_identity("p256")
    picker = Picker(home, {"default": {"remember": "always"}})
    os.makedirs(os.path.dirname(home.decisions), mode=0o700)

    for index, (name, content) in enumerate(BAD_FILES):
        # A valid decision in a valid file would have answered a.test.
        with open(home.decisions, "w") as f:
            f.write(content)
        daemon = Daemon(home, picker).start()
        log = daemon.wait_for_log("moved it to")
        line = [l for l in log.splitlines() if "moved it to" in l][-1]
        check("warning:" in line, f"{name}: logged as a warning: {line}")
        check(home.decisions in line, f"{name}: the log names the file")

        aside = sorted(glob.glob(home.decisions + ".corrupt-*"))
        check(aside, f"{name}: the file was moved aside")
        with open(aside[-1]) as f:
            check_equal(f.read(), content, f"{name}: kept unchanged")
        os.unlink(aside[-1])
        check(not os.path.exists(home.decisions) or index > 0,
              f"{name}: no decisions file after moving it")

        client = Client(home.socket)
        check_equal(client.call("ListDecisions")["parameters"],
                    {"decisions": []}, f"{name}: no decisions")
        reply = client.call("Select", {"host": "a.test", "port": 443})
        check_equal(reply["parameters"]["decided_by"], "picker",
                    f"{name}: the person is asked")
        client.close()
        daemon.stop()

        # The choice was remembered in a fresh, valid file.
        with open(home.decisions) as f:
            saved = json.load(f)
        check_equal([(d["host"], d["port"], d["id"])
                     for d in saved["decisions"]], [("a.test", 443, p256)],
                    f"{name}: the fresh file")
        os.unlink(home.decisions)


run(test)

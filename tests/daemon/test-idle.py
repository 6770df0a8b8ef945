#!/usr/bin/python3
"""An idle certpickd makes no periodic wake-ups: with an idle client
connection and an idle picker process, none of its threads is scheduled
for three seconds (the kernel's context switch counters stay put)."""

import glob
import time

from daemontest import Client, Daemon, Picker, check, check_equal, run

IDLE_SECONDS = 3


def context_switches(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        with open(path) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches",
                                    "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {}})
    daemon = Daemon(home, picker).start()
    client = Client(home.socket)
    reply = client.call("Select", {"host": "a.test", "port": 443})
    check("error" not in reply, f"Select: {reply}")
    picker.wait_for_close("answered")
    time.sleep(0.5)

    pid = daemon.process.pid
    before = context_switches(pid)
    time.sleep(IDLE_SECONDS)
    after = context_switches(pid)
    check_equal(after - before, 0,
                f"context switches of an idle certpickd in {IDLE_SECONDS} s")

    # Still responsive afterwards.
    reply = client.call("org.varlink.service.GetInfo")
    check("vendor" in reply["parameters"], "GetInfo after idling")
    client.close()
    daemon.stop()


run(test)

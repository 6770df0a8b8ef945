#!/usr/bin/python3
"""A picker that hangs (it never reads its socket) is stopped when it
leaves Close unanswered for 5 s, so that the next request starts a new
picker instead of waiting on the hung one for good. It is killed when it
does not exit, and certpickd ends the pickers still running when it
stops."""

import os
import time

from daemontest import Client, Daemon, check, check_equal, run, wait_until

CLOSE_SECONDS = 5


class HungPicker:
    """A picker program that records its pid and never answers."""

    def __init__(self, home):
        self.pids_path = os.path.join(home.root, "hung-picker-pids")
        self.program = os.path.join(home.root, "hung-picker")
        with open(self.program, "w") as f:
            f.write(f"#!/bin/sh\necho $$ >> {self.pids_path}\n"
                    "exec sleep 600\n")
        os.chmod(self.program, 0o755)

    def pids(self):
        try:
            with open(self.pids_path) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


def running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def timed_out(home, host):
    client = Client(home.socket)
    reply = client.call("Select", {"host": host, "port": 443})
    client.close()
    check_equal(reply.get("error"), "org.certpick.Agent.TimedOut",
                f"Select for {host}")


def test(home):
    home.import_identity("p256")
    picker = HungPicker(home)
    daemon = Daemon(home, picker, timeout=1).start()

    timed_out(home, "first.test")
    check_equal(len(picker.pids()), 1, "pickers started")
    daemon.wait_for_log("did not answer Close within "
                        f"{CLOSE_SECONDS} seconds",
                        timeout=CLOSE_SECONDS + 5)
    first = picker.pids()[0]

    timed_out(home, "second.test")
    pids = picker.pids()
    check_equal(len(pids), 2, "a new picker for the next request")
    wait_until(lambda: not running(first), 15, "the hung picker to end")

    started = time.monotonic()
    daemon.stop()
    wait_until(lambda: not running(pids[1]), 5,
               "the picker to end with certpickd")
    check(time.monotonic() - started < 10, "certpickd stopped in time")


run(test)

#!/usr/bin/python3
"""A request that the person does not answer within --timeout fails with
TimedOut, and its dialog is closed with "timed-out". A queued request's
clock runs while it waits."""

import time

from daemontest import Client, Daemon, Picker, check, check_equal, run


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {"wait": True}})
    daemon = Daemon(home, picker, timeout=1).start()

    first = Client(home.socket)
    second = Client(home.socket)
    started = time.monotonic()
    first.send("org.certpick.Agent.Select", {"host": "a.test", "port": 443})
    picker.wait_for_choose("a.test")
    second.send("org.certpick.Agent.Select", {"host": "b.test", "port": 443})

    reply = first.receive()
    elapsed = time.monotonic() - started
    check_equal(reply.get("error"), "org.certpick.Agent.TimedOut",
                "unanswered request")
    check_equal(reply["parameters"], {"seconds": 1}, "TimedOut parameters")
    check(0.9 <= elapsed < 3, f"timed out after {elapsed:.2f} s")
    picker.wait_for_close("timed-out")
    choose = picker.chooses("a.test")[0]["parameters"]
    check(1 <= choose["timeout"] <= 2, f"Choose timeout {choose['timeout']}")

    # The second request waited in the queue for the same second.
    reply = second.receive()
    check_equal(reply.get("error"), "org.certpick.Agent.TimedOut",
                "queued request")
    check(time.monotonic() - started < 3.5, "queued request timed out "
          "from its own start")
    first.close()
    second.close()
    daemon.stop()


run(test)

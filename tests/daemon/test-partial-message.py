#!/usr/bin/python3
"""A message left half sent is dropped after CP_PARTIAL_MESSAGE_SECONDS
(10 s), counted from its first byte: trickling more bytes of the same
message does not extend it. An idle connection with nothing half sent is
kept."""

import time

from daemontest import Client, Daemon, check, run

PARTIAL_SECONDS = 10


def test(home):
    daemon = Daemon(home).start()
    idle = Client(home.socket)
    slow = Client(home.socket)

    started = time.monotonic()
    slow.send_raw(b'{"method": "org.varlink')
    time.sleep(4)
    slow.send_raw(b".service")
    time.sleep(4)
    slow.send_raw(b".GetInfo")
    check(slow.closed_by_peer(timeout=PARTIAL_SECONDS),
          "half-sent message closed the connection")
    elapsed = time.monotonic() - started
    check(PARTIAL_SECONDS - 0.5 <= elapsed <= PARTIAL_SECONDS + 4,
          f"closed after {elapsed:.1f} s, expected about {PARTIAL_SECONDS}")
    log = daemon.wait_for_log("stayed incomplete")
    check("warning:" in [l for l in log.splitlines()
                         if "stayed incomplete" in l][0],
          "logged at warning level")

    reply = idle.call("org.varlink.service.GetInfo")
    check("vendor" in reply["parameters"], "idle connection kept")
    idle.close()
    slow.close()
    daemon.stop()


run(test)

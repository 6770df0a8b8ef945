#!/usr/bin/python3
"""A client that disconnects withdraws its request: the dialog on screen is
closed with "withdrawn", a queued one is never shown, and the next dialog
in the queue takes its place."""

import time

from daemontest import Client, Daemon, Picker, check, check_equal, run


def select(client, host):
    client.send("org.certpick.Agent.Select", {"host": host, "port": 443})


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"by_host": {"shown.test": {"wait": True},
                                       "next.test": {"remember": "once"}}})
    daemon = Daemon(home, picker).start()

    shown = Client(home.socket)
    select(shown, "shown.test")
    picker.wait_for_choose("shown.test")
    queued = Client(home.socket)
    select(queued, "queued.test")
    following = Client(home.socket)
    select(following, "next.test")
    time.sleep(0.3)
    check_equal(len(picker.chooses()), 1, "one dialog at a time")

    # The queued request goes away without ever being shown.
    queued.close()
    daemon.wait_for_log("withdrawing its request for queued.test:443")

    # The dialog on screen is closed, and the next one shown.
    shown.close()
    close = picker.wait_for_close("withdrawn")[0]
    first = picker.chooses("shown.test")[0]["parameters"]
    check_equal(close["parameters"]["dialog"], first["dialog"],
                "Close names the withdrawn dialog")
    reply = following.receive()
    check("error" not in reply, f"next request answered: {reply}")
    check_equal(picker.chooses("queued.test"), [],
                "the withdrawn queued request was never shown")
    second = picker.chooses("next.test")[0]["parameters"]
    check(second["dialog"] != first["dialog"], "a new dialog number")

    # The picker saw Close after the Choose it had not answered.
    picker.wait_for_close("answered")
    methods = [c["method"].split(".")[-1] for c in picker.calls()]
    check_equal(methods, ["Choose", "Close", "Choose", "Close"],
                "picker calls in order")
    following.close()
    daemon.stop()


run(test)

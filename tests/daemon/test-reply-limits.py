#!/usr/bin/python3
"""Replies stay within their limits without losing the client: a reply
that would exceed the 1 MiB message limit (the decisions of a large file)
gets LimitReached "message-size" and the connection stays usable, where
certpickd used to close it without a word. A second WatchDecisions on one
connection gets LimitReached, since its replies could never go out before
the first subscription's, and would pile up in certpickd meanwhile."""

import json
import os
import signal

from daemontest import Client, Daemon, Picker, check, check_equal, run

LIMIT = "org.certpick.Agent.LimitReached"


def write_decisions(home, count):
    os.makedirs(os.path.dirname(home.decisions), mode=0o700, exist_ok=True)
    decisions = [{"host": f"host-{i}.example.test", "port": 443,
                  "id": "a" * 64, "label": "A label of some length",
                  "created": "2024-01-01T00:00:00Z"} for i in range(count)]
    with open(home.decisions, "w") as f:
        json.dump({"version": 1, "decisions": decisions}, f)


def oversized_reply(home, picker):
    write_decisions(home, 8000)
    daemon = Daemon(home, picker).start()
    client = Client(home.socket)
    reply = client.call("ListDecisions")
    check_equal(reply.get("error"), LIMIT, "ListDecisions of 8000")
    check_equal(reply["parameters"], {"limit": "message-size",
                                      "max": 1024 * 1024},
                "LimitReached parameters")
    reply = client.call("ForgetDecisions", {"all": True})
    check_equal(reply["parameters"], {"forgotten": 8000},
                "the same connection afterwards")
    check_equal(client.call("ListDecisions")["parameters"],
                {"decisions": []}, "ListDecisions of none")
    client.close()
    daemon.wait_for_log("larger than 1048576 bytes")
    daemon.stop()


def second_subscription(home, picker):
    write_decisions(home, 3)
    daemon = Daemon(home, picker).start()
    watcher = Client(home.socket)
    watcher.send("org.certpick.Agent.WatchDecisions", more=True)
    watcher.send("org.certpick.Agent.WatchDecisions", more=True)
    check_equal(watcher.receive(), {"parameters": {}, "continues": True},
                "the first subscription is active")

    other = Client(home.socket)
    reply = other.call("ForgetDecisions", {"all": True})
    check_equal(reply["parameters"], {"forgotten": 3}, "forgotten")
    other.close()

    # Stopping ends the first subscription, which lets the replies to the
    # second one out at last.
    daemon.process.send_signal(signal.SIGTERM)
    messages = []
    try:
        while True:
            messages.append(watcher.receive())
    except ConnectionError:
        pass
    daemon.process.wait(timeout=10)
    daemon.stop()
    finals = [i for i, m in enumerate(messages) if not m.get("continues")]
    check_equal(len(finals), 2, f"two calls ended: {messages}")
    second = messages[finals[0] + 1:]
    check_equal(len(second), 1, f"one reply to the second call: {second}")
    check_equal(second[0].get("error"), LIMIT, "the second subscription")
    check_equal(second[0]["parameters"],
                {"limit": "subscriptions-per-connection", "max": 1},
                "LimitReached parameters")


def test(home):
    picker = Picker(home)
    oversized_reply(home, picker)
    second_subscription(home, picker)


run(test)

#!/usr/bin/python3
"""When the picker crashes, every pending request fails closed with
PickerFailed and no certificate; the next request starts a new picker.
A picker that cannot be started, or that breaks the protocol, fails the
same way."""

import time

from daemontest import Client, Daemon, Picker, check, check_equal, run

FAILED = "org.certpick.Agent.PickerFailed"


def select_all(home, hosts):
    clients = []
    for host in hosts:
        client = Client(home.socket)
        client.send("org.certpick.Agent.Select", {"host": host, "port": 443})
        clients.append(client)
    return clients


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"actions": [{"delay": 0.5, "crash": True},
                                       {"garbage": True}],
                           "default": {"remember": "once"}})
    daemon = Daemon(home, picker).start()

    clients = select_all(home, ["a.test", "b.test", "c.test"])
    for client, host in zip(clients, ["a", "b", "c"]):
        reply = client.receive()
        check_equal(reply.get("error"), FAILED, f"request for {host}.test")
        check("exited with status 3" in reply["parameters"]["reason"] or
              "closed its socket" in reply["parameters"]["reason"],
              f"the reason names the crash: {reply['parameters']}")
        client.close()
    check_equal(len(picker.chooses()), 1, "only the first dialog was shown")
    daemon.wait_for_log("exited with status 3")

    # A picker that sends garbage is treated as failed too.
    client = select_all(home, ["d.test"])[0]
    reply = client.receive()
    check_equal(reply.get("error"), FAILED, "picker that sent garbage")
    check("invalid message" in reply["parameters"]["reason"],
          f"reason: {reply['parameters']}")
    client.close()

    # The next request starts a fresh picker, which answers.
    client = select_all(home, ["e.test"])[0]
    reply = client.receive()
    check("error" not in reply, f"answered after the restart: {reply}")
    client.close()
    pids = [s["pid"] for s in picker.starts()]
    check_equal(len(set(pids)), 3, "three picker processes were started")
    daemon.stop()

    # A picker that cannot be started.
    daemon = Daemon(home, None).start()  # --picker /nonexistent/picker
    client = select_all(home, ["f.test"])[0]
    reply = client.receive()
    check_equal(reply.get("error"), FAILED, "missing picker")
    check("cannot start the picker" in reply["parameters"]["reason"],
          f"reason: {reply['parameters']}")
    time.sleep(0.1)
    client.close()
    daemon.stop()


run(test)

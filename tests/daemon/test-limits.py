#!/usr/bin/python3
"""The named limits answer with org.certpick.Agent.LimitReached: one Select
in flight per connection, requests waiting for the person (1024), and
connections (2048, or fewer when RLIMIT_NOFILE is lower)."""

import resource
import time

from daemontest import (Client, Daemon, Picker, check, check_equal, run,
                        wait_until)

LIMIT = "org.certpick.Agent.LimitReached"
QUEUE_MAX = 1024
CONNECTIONS_MAX = 2048


def raise_descriptor_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    return True


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"by_host": {"slow.test": {"delay": 0.5}},
                           "default": {"wait": True}})
    daemon = Daemon(home, picker).start()

    # A second Select on the same connection while the first waits.
    client = Client(home.socket)
    client.send("org.certpick.Agent.Select", {"host": "slow.test",
                                              "port": 443})
    client.send("org.certpick.Agent.Select", {"host": "other.test",
                                              "port": 443})
    first, second = client.receive(), client.receive()
    check("error" not in first, f"first Select answered: {first}")
    check_equal(second.get("error"), LIMIT, "second Select in flight")
    check_equal(second["parameters"],
                {"limit": "selects-per-connection", "max": 1},
                "LimitReached parameters")
    client.close()

    if not raise_descriptor_limit(CONNECTIONS_MAX + 200):
        print("RLIMIT_NOFILE too low for the connection limit; checked the "
              "per-connection limit only")
        daemon.stop()
        return

    # The queue: requests waiting for the person, here sharing one dialog.
    waiting = []
    for _ in range(QUEUE_MAX):
        c = Client(home.socket)
        c.send("org.certpick.Agent.Select", {"host": "queue.test",
                                             "port": 443})
        waiting.append(c)
    picker.wait_for_choose("queue.test")
    daemon.wait_for_log(f"(requests queued: {QUEUE_MAX})", timeout=30)
    extra = Client(home.socket)
    reply = extra.call("Select", {"host": "queue.test", "port": 443})
    check_equal(reply.get("error"), LIMIT, "request over the queue limit")
    check_equal(reply["parameters"], {"limit": "queue", "max": QUEUE_MAX},
                "queue LimitReached parameters")
    daemon.wait_for_log("requests wait for the person, the maximum")
    extra.close()
    for c in waiting:
        c.close()
    picker.wait_for_close("withdrawn", timeout=30)
    time.sleep(0.5)  # for certpickd to see the last of them close

    # Connections: open them one at a time until one is refused.
    connections = []
    refused = None
    for _ in range(CONNECTIONS_MAX + 1):
        c = Client(home.socket)
        reply = c.call("org.varlink.service.GetInfo")
        if "error" in reply:
            refused = (c, reply)
            break
        connections.append(c)
    check(refused is not None, f"refused after {len(connections)}")
    refused_client, reply = refused
    check_equal(reply["error"], LIMIT, "connection over the limit")
    check_equal(reply["parameters"], {"limit": "connections",
                                      "max": len(connections)},
                "connections LimitReached parameters")
    check(refused_client.closed_by_peer(), "refused connection closed")
    refused_client.close()
    check(len(connections) == CONNECTIONS_MAX or
          "instead of 2048" in daemon.log(),
          f"limit {len(connections)} is {CONNECTIONS_MAX} unless lowered")

    # A closed connection makes room for a new one, once certpickd has
    # seen it close.
    connections.pop().close()

    def accepted():
        c = Client(home.socket)
        reply = c.call("org.varlink.service.GetInfo")
        if "error" in reply:
            c.close()
            return None
        return c

    connections.append(wait_until(accepted, 5, "a connection accepted"))
    for c in connections:
        c.close()
    daemon.stop()


run(test)

#!/usr/bin/python3
"""Malformed and oversized messages close the connection with a log line
saying why, and the daemon keeps serving others. A large message within
the limit is still served."""

import time

from daemontest import Client, Daemon, check, check_equal, run

MESSAGE_MAX = 1024 * 1024

CASES = [
    ("invalid JSON", b'{"method": \0', "not valid JSON"),
    ("invalid UTF-8", b'{"method": "\xff\xfe"}\0', "not valid UTF-8"),
    ("a JSON array", b'["org.varlink.service.GetInfo"]\0',
     "not a JSON object"),
    ("too deep", b'{"method": "x", "parameters": {"a": ' + b"[" * 40 +
     b"]" * 40 + b"}}\0", "deep"),
    ("no method", b'{"parameters": {}}\0',
     'not a valid Varlink call: "method" is missing'),
    ("a reply", b'{"error": "x.Y"}\0',
     'not a valid Varlink call: "method" is missing'),
    ("a numeric method", b'{"method": 7}\0',
     'not a valid Varlink call: "method" is not a non-empty string'),
    ("a list of parameters", b'{"method": "a.B", "parameters": []}\0',
     'not a valid Varlink call: "parameters" is not an object'),
    ("a string flag", b'{"method": "a.B", "more": "yes"}\0',
     'not a valid Varlink call: "oneway", "more" or "upgrade" is not a '
     'boolean'),
    ("upgrade", b'{"method": "org.varlink.service.GetInfo", "upgrade": true}'
     b"\0", "not a valid Varlink call: it asks for a connection upgrade"),
    ("oneway and more", b'{"method": "org.varlink.service.GetInfo", '
     b'"oneway": true, "more": true}\0',
     'not a valid Varlink call: it sets both "oneway" and "more"'),
    ("duplicate keys", b'{"method": "a.B", "method": "c.D"}\0',
     "not valid JSON"),
]


def test(home):
    daemon = Daemon(home).start()
    log_before = ""

    for name, data, reason in CASES:
        client = Client(home.socket)
        client.send_raw(data)
        check(client.closed_by_peer(), f"{name}: connection closed")
        client.close()
        log = daemon.wait_for_log(reason)
        new = log[len(log_before):]
        check("closing the connection of pid" in new and reason in new,
              f"{name}: the log says why ({reason}): {new}")
        log_before = log
        # certpickd logs at most 10 warnings about peers a second.
        time.sleep(0.15)

    # Oversized: a message that never ends before the limit.
    client = Client(home.socket)
    chunk = b"x" * 65536
    try:
        for _ in range(MESSAGE_MAX // len(chunk) + 2):
            client.send_raw(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    check(client.closed_by_peer(), "oversized: connection closed")
    client.close()
    daemon.wait_for_log("larger than the maximum of 1 MiB")

    # Oversized with its terminator, sent at once.
    client = Client(home.socket)
    try:
        client.send_raw(b'{"method": "' + b"a" * MESSAGE_MAX + b'"}\0')
    except (BrokenPipeError, ConnectionResetError):
        pass
    check(client.closed_by_peer(), "oversized with NUL: connection closed")
    client.close()

    # Within the limit: about 900 KB is decoded and answered.
    client = Client(home.socket)
    reply = client.call("org.varlink.service.GetInterfaceDescription",
                        {"interface": "x" * 900000})
    check_equal(reply.get("error"), "org.varlink.service.InterfaceNotFound",
                "large message within the limit")
    # The same connection stays usable.
    reply = client.call("org.varlink.service.GetInfo")
    check("vendor" in reply["parameters"], "connection still usable")
    client.close()

    # A client that sends one call and shuts down its sending side still
    # gets the reply.
    client = Client(home.socket)
    client.send("org.varlink.service.GetInfo")
    client.sock.shutdown(1)
    reply = client.receive()
    check("vendor" in reply["parameters"], "reply after SHUT_WR")
    check(client.closed_by_peer(), "closed after the reply")
    client.close()

    daemon.stop()


run(test)

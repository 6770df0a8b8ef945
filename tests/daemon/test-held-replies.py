#!/usr/bin/python3
"""Replies held back behind an unfinished call count against the limit of
buffered reply bytes per connection (CP_OUTPUT_BUFFER_MAX). A client may
subscribe with WatchDecisions and then pipeline calls whose replies cannot
go out before the subscription ends. certpickd then stops reading its calls
at that limit rather than keep every reply in memory, and disconnects it at
the next announcement."""

import os
import subprocess
import time

from daemontest import (AGENT, Client, Daemon, Picker, check, check_equal,
                        run, wait_until)

# CP_OUTPUT_BUFFER_MAX in daemon/daemon-limits.h.
OUTPUT_BUFFER_MAX = 4 * 1024 * 1024
# CP_CALLS_PER_CONNECTION_MAX: the subscription and the pipelined calls.
PIPELINED = 63
# Bytes of an extension that makes the identity's certificate, and so
# each ListIdentities reply, about 200 KB once in base64.
EXTENSION_BYTES = 150000


def make_large_identity(home):
    """Imports a self-signed client certificate with a large private
    extension, and returns its id."""
    config = os.path.join(home.root, "large.cnf")
    with open(config, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n"
                "[dn]\nCN = Large Extension\n[ext]\n"
                "extendedKeyUsage = clientAuth\n"
                "keyUsage = digitalSignature\n"
                f"1.2.3.4 = DER:0483{EXTENSION_BYTES:06x}"
                + "ab" * EXTENSION_BYTES + "\n")
    cert = os.path.join(home.root, "large-cert.pem")
    key = os.path.join(home.root, "large-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30",
                    "-config", config, "-extensions", "ext"],
                   check=True, capture_output=True)
    return home.import_identity("large", cert, "--key", key)


def calls_read(daemon, pid):
    return daemon.log().count(f"pid {pid}: call {AGENT}ListIdentities")


def test(home):
    make_large_identity(home)
    picker = Picker(home, {"default": {"remember": "session"}})
    daemon = Daemon(home, picker).start()

    probe = Client(home.socket)
    reply_size = len(probe.call("ListIdentities")["parameters"]
                     ["identities"][0]["chain"][0])
    probe.close()
    check(reply_size * PIPELINED > 2 * OUTPUT_BUFFER_MAX,
          f"replies of {reply_size} bytes are too small for this test")

    pid = os.getpid()
    before = calls_read(daemon, pid)
    watcher = Client(home.socket)
    watcher.send(AGENT + "WatchDecisions", more=True)
    check_equal(watcher.receive(), {"parameters": {}, "continues": True},
                "the subscription is confirmed")
    for _ in range(PIPELINED):
        watcher.send(AGENT + "ListIdentities")

    # Wait until certpickd reads no further calls.
    last = -1
    while last != calls_read(daemon, pid) - before:
        last = calls_read(daemon, pid) - before
        time.sleep(0.5)
    held_max = OUTPUT_BUFFER_MAX // reply_size + 1
    check(last <= held_max,
          f"certpickd read {last} calls whose replies it must hold, more "
          f"than the {held_max} that fit in {OUTPUT_BUFFER_MAX} bytes")

    # A decision to forget, so that the subscription gets a reply.
    other = Client(home.socket)
    check("error" not in other.call("Select", {"host": "held.test",
                                               "port": 443}),
          "Select answered")
    check_equal(other.call("ForgetDecisions", {"host": "held.test"}),
                {"parameters": {"forgotten": 1}}, "ForgetDecisions")
    other.close()
    check(watcher.closed_by_peer(), "the subscriber is disconnected")
    watcher.close()
    wait_until(lambda: "left more than" in daemon.log(), 5,
               "the log to say why the subscriber was disconnected")
    daemon.stop()


run(test)

#!/usr/bin/python3
"""A server of another user on CERTPICK_SOCKET is not taken for certpickd:
certpick decisions and certpick connect refuse it and name its uid, where
they used to send it the hosts they connect to and use whatever identity
it returned. As in tests/daemon/test-peer-uid.py, the other user's server
runs through setpriv as root, or in a user namespace; the test is skipped
when neither is available."""

import subprocess
import sys

from clienttest import check, check_in, check_status, daemontest, run

# Serves every call with an empty reply, or with no decisions, as another
# user; prints "ready" once it listens.
FAKE_AGENT = r"""
import json, socket, sys
listener = socket.socket(socket.AF_UNIX)
listener.bind(sys.argv[1])
listener.listen(8)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    data = b""
    while b"\0" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    if data:
        conn.sendall(json.dumps({"parameters": {"decisions": []}}).encode()
                     + b"\0")
    conn.close()
"""


def test(ctx):
    prefix = daemontest.other_uid_command()
    if not prefix:
        daemontest.skip("neither root (for setpriv) nor subordinate uids "
                        "(for unshare --map-auto) are available")
    agent = subprocess.Popen(prefix + [sys.executable, "-c", FAKE_AGENT,
                                       ctx.home.socket],
                             stdout=subprocess.PIPE, text=True)
    try:
        check(agent.stdout.readline().strip() == "ready",
              "the other user's server started")

        result = ctx.home.cli("decisions", check_status=False)
        check(result.returncode == 1,
              f"certpick decisions exit status: {result.returncode} "
              f"{result.stdout!r} {result.stderr!r}")
        check_in("not as you", result.stderr, "certpick decisions")
        check_in(ctx.home.socket, result.stderr, "certpick decisions")

        server = ctx.s_server(version="1.3")
        result = ctx.connect(f"https://127.0.0.1:{server.port}/")
        check_status(result, 6, "certpick connect")
        check_in("not as you", result.stderr, "certpick connect")
    finally:
        agent.kill()
        agent.wait()


run(test)

#!/usr/bin/python3
"""A connection from another uid is closed at accept and logged at warning
level with its pid and uid, while the daemon's own user is still served.

The other-uid client needs a way past the private socket directory: as
root, setpriv runs it as nobody with CAP_DAC_OVERRIDE kept; otherwise
unshare maps a subordinate uid (from /etc/subuid) in a user namespace.
The test is skipped when neither is available."""

import os
import subprocess
import sys

from daemontest import (Client, Daemon, check, check_equal, other_uid_command,
                        run, skip)

# Connects, sends GetInfo, and prints its pid and what came back: "closed"
# when certpickd closed the connection without a reply.
PROBE = r"""
import json, os, socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.settimeout(10)
sock.connect(sys.argv[1])
print(os.getpid(), os.getuid(), flush=True)
try:
    sock.sendall(json.dumps({"method": "org.varlink.service.GetInfo"})
                 .encode() + b"\0")
    data = sock.recv(65536)
except (ConnectionResetError, BrokenPipeError):
    data = b""
print("closed" if not data else "answered: " + data.decode(errors="replace"))
"""

def test(home):
    prefix = other_uid_command()
    if not prefix:
        skip("neither root (for setpriv) nor subordinate uids (for "
             "unshare --map-auto) are available")
    os.chmod(home.root, 0o755)  # so that the other uid can run the probe
    daemon = Daemon(home).start()

    result = subprocess.run(prefix + [sys.executable, "-c", PROBE,
                                      home.socket],
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 0, f"probe exit status ({result.stderr})")
    pid_line, outcome = result.stdout.strip().split("\n")
    pid, uid = (int(x) for x in pid_line.split())
    check(uid != os.getuid(), "the probe ran as another uid")
    check_equal(outcome, "closed", "other uid's connection")

    log = daemon.wait_for_log("rejected a connection")
    line = [l for l in log.splitlines() if "rejected a connection" in l][0]
    check("warning:" in line, f"logged at warning level: {line}")
    check(f"pid {pid} " in line, f"the log names the pid: {line}")
    check(f"uid " in line and f"uid {os.getuid()} may" in line,
          f"the log names the uids: {line}")

    client = Client(home.socket)
    reply = client.call("org.varlink.service.GetInfo")
    check("error" not in reply, "own uid is still served")
    client.close()
    daemon.stop()


run(test)

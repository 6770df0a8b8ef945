#!/usr/bin/python3
"""systemd socket activation: certpickd serves the listening socket passed
as descriptor 3 with LISTEN_FDS and LISTEN_PID, keeps those variables from
the picker, and leaves the socket file to systemd when it exits."""

import os
import socket
import subprocess

from daemontest import (Client, Daemon, Picker, check, check_equal, run,
                        wait_until)

# Puts the listening socket on descriptor 3 and sets the variables for the
# process that exec turns into certpickd, as systemd does.
ACTIVATE = ('fd=$1; count=$2; shift 2; eval "exec 3<&$fd"; '
            'if [ "$count" = 2 ]; then eval "exec 4<&$fd"; fi; '
            'LISTEN_PID=$$ LISTEN_FDS=$count exec "$@"')


def activated(daemon, listener, count=1):
    fd = listener.fileno()
    check(fd < 10, "the shell can move descriptors 0-9 only")
    log = open(daemon.log_path, "a")
    process = subprocess.Popen(
        ["/bin/sh", "-c", ACTIVATE, "sh", str(fd), str(count),
         *daemon.command()], env=daemon.environment(), pass_fds=[fd],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    return process


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {}})
    # --socket names another path: the passed socket takes precedence.
    daemon = Daemon(home, picker, args=["--socket",
                                        os.path.join(home.run, "unused")])
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(home.socket)
    os.chmod(home.socket, 0o600)
    listener.listen(16)

    daemon.process = activated(daemon, listener)
    Daemon.running.append(daemon)
    wait_until(lambda: "using the socket passed by systemd" in daemon.log(),
               10, "certpickd to take the socket")
    client = Client(home.socket)
    reply = client.call("Select", {"host": "a.test", "port": 443})
    check("error" not in reply, f"Select over the passed socket: {reply}")
    client.close()
    start = picker.starts()[0]
    check_equal(start.get("listen_fds"), None, "LISTEN_FDS kept from the "
                "picker")
    check(not os.path.exists(os.path.join(home.run, "unused")),
          "no socket made at --socket")

    daemon.stop()
    check(os.path.exists(home.socket), "the socket file belongs to systemd")
    listener.close()

    # Two descriptors: certpickd needs exactly one listening socket.
    os.unlink(home.socket)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(home.socket)
    listener.listen(1)
    process = activated(daemon, listener, count=2)
    check_equal(process.wait(timeout=30), 1, "exit status with 2 sockets")
    check("systemd passed 2 descriptors" in daemon.log(),
          "the message says what systemd passed")
    listener.close()


run(test)

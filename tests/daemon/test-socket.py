#!/usr/bin/python3
"""The socket and its directory. They are created 0600 and 0700. A
directory with the wrong mode, owner or type stops certpickd with a message
that tells what to do. A stale socket is replaced after a connect probe,
and a second certpickd does not start. SIGTERM and SIGINT fail pending
requests, remove the socket and exit cleanly."""

import os
import signal
import socket
import stat
import subprocess

from daemontest import (Client, Daemon, Picker, check, check_equal, run,
                        wait_until)


def start_fails(daemon, what):
    """Runs certpickd expecting it to refuse to start; returns stderr."""
    result = subprocess.run(daemon.command(), env=daemon.environment(),
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 1, f"exit status: {what}")
    return result.stderr


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {"wait": True}})

    # The default path, under XDG_RUNTIME_DIR, made private.
    default = Daemon(home, picker, default_socket=True)
    home.socket = os.path.join(home.run, "certpick", "socket")
    default.start()
    check_equal(stat.S_IMODE(os.stat(os.path.dirname(home.socket)).st_mode),
                0o700, "socket directory mode")
    check_equal(stat.S_IMODE(os.stat(home.socket).st_mode), 0o600,
                "socket mode")
    check(stat.S_ISSOCK(os.stat(home.socket).st_mode), "a socket")

    # A second instance on the same socket is refused.
    second = start_fails(default, "second instance")
    check(f"already running on '{home.socket}'" in second and
          f"(pid {default.process.pid})" in second,
          f"second instance message: {second}")

    # SIGTERM: the pending request and the subscription get errors.
    pending = Client(home.socket)
    pending.send("org.certpick.Agent.Select", {"host": "a.test",
                                               "port": 443})
    picker.wait_for_choose("a.test")
    watcher = Client(home.socket)
    watcher.send("org.certpick.Agent.WatchDecisions", more=True)
    watcher.receive()
    default.stop(signal.SIGTERM)
    reply = pending.receive()
    check_equal(reply, {"error": "org.certpick.Agent.Cancelled",
                        "parameters": {"reason": "certpickd is stopping"}},
                "pending request at SIGTERM")
    check_equal(watcher.receive().get("error"),
                "org.certpick.Agent.Cancelled", "subscription at SIGTERM")
    check(not os.path.exists(home.socket), "socket removed at exit")
    check(not os.path.exists(home.socket + ".lock"), "lock removed at exit")
    log = default.log()
    check("received Terminated; stopping" in log, "signal logged")
    check("certpickd stopped" in log, "stop logged")
    pending.close()
    watcher.close()

    # SIGINT stops it the same way.
    default.start()
    default.stop(signal.SIGINT)
    check(not os.path.exists(home.socket), "socket removed after SIGINT")

    # A stale socket, left by a process that is gone, is replaced.
    home.socket = os.path.join(home.run, "socket")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(home.socket)
    stale.close()
    daemon = Daemon(home, picker).start()
    check("replacing the stale socket" in daemon.log(), "stale socket")
    reply = Client(home.socket).call("org.varlink.service.GetInfo")
    check("vendor" in reply["parameters"], "serving after the replacement")
    daemon.stop()

    # A live socket of another server is left alone.
    live = socket.socket(socket.AF_UNIX)
    live.bind(home.socket)
    live.listen(1)
    message = start_fails(daemon, "another server listening")
    check("another server already listens" in message, message)
    live.close()
    os.unlink(home.socket)

    # Not a socket at all.
    with open(home.socket, "w") as f:
        f.write("x")
    message = start_fails(daemon, "a regular file at the path")
    check("exists and is not a socket" in message, message)
    os.unlink(home.socket)

    # Directory mode, type and owner.
    open_dir = os.path.join(home.root, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o755)
    home.socket = os.path.join(open_dir, "socket")
    message = start_fails(daemon, "a directory others can enter")
    check("has mode 0755" in message and f"chmod 700 {open_dir}" in message,
          f"wrong mode message: {message}")
    check(not os.path.exists(home.socket), "no socket made")

    link = os.path.join(home.root, "link")
    os.symlink(home.run, link)
    home.socket = os.path.join(link, "socket")
    message = start_fails(daemon, "a symbolic link as the directory")
    check("is not a directory (or is a symbolic link)" in message, message)

    if os.getuid() == 0:
        other = os.path.join(home.root, "other")
        os.mkdir(other, 0o700)
        os.chown(other, 65534, 65534)
        home.socket = os.path.join(other, "socket")
        message = start_fails(daemon, "a directory of another user")
        check("belongs to uid 65534" in message, message)

    home.socket = os.path.join(home.root, "x" * 120, "socket")
    message = start_fails(daemon, "a path too long")
    check("choose a shorter --socket" in message, message)

    # A missing directory is created privately.
    home.socket = os.path.join(home.root, "fresh", "socket")
    daemon.start()
    check_equal(stat.S_IMODE(os.stat(os.path.dirname(home.socket)).st_mode),
                0o700, "created directory mode")
    daemon.stop()
    wait_until(lambda: not os.path.exists(home.socket), 5, "socket removal")


run(test)

#!/usr/bin/python3
"""Without systemd, the certpick command starts certpickd on demand
(cp_agent_connect with autostart). certpickd detaches into its own session
once its socket listens and records its pid in the lock file. It does not
hold the caller's pipes open, and it serves the command that started it
and later ones."""

import os
import signal
import subprocess
import time

from daemontest import Client, check, check_equal, run, wait_until

started_pids = []


def process_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"state": fields[0], "ppid": int(fields[1]),
            "sid": int(fields[3])}


def alive(pid):
    try:
        return process_stat(pid)["state"] != "Z"
    except FileNotFoundError:
        return False


def daemon_pid(home):
    """The pid that certpickd wrote into the lock file next to its socket.
    (SO_PEERCRED would name the process that called listen, which is the
    parent that exited when certpickd detached.)"""
    with open(home.socket + ".lock") as f:
        pid = int(f.read())
    started_pids.append(pid)
    return pid


def stop(pid):
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not alive(pid), 10, f"certpickd {pid} to exit")


def test(home):
    env = home.env()
    started = time.monotonic()
    # capture_output gives certpickd pipes as stdout and stderr: run()
    # returns only once every copy of them is closed.
    result = subprocess.run([os.environ["CERTPICK_CLI"], "decisions"],
                            env=env, capture_output=True, text=True,
                            timeout=30)
    check_equal(result.returncode, 0,
                f"certpick decisions status ({result.stderr})")
    check_equal(result.stdout, "no decisions are remembered\n", "output")
    check(time.monotonic() - started < 10,
          "the command did not wait for certpickd to exit")

    pid = daemon_pid(home)
    check_equal(os.path.realpath(f"/proc/{pid}/exe"),
                os.path.realpath(os.environ["CERTPICKD"]), "the daemon")
    info = process_stat(pid)
    check_equal(info["sid"], pid, "certpickd leads its own session")
    check(info["ppid"] != os.getpid(), "certpickd detached from its starter")

    # A second command reuses the running daemon.
    result = subprocess.run([os.environ["CERTPICK_CLI"], "forget", "--all"],
                            env=env, capture_output=True, text=True,
                            timeout=30)
    check_equal(result.stdout, "forgot 0 decisions\n", "certpick forget")
    check_equal(daemon_pid(home), pid, "the same certpickd")

    stop(pid)
    check(not os.path.exists(home.socket), "socket removed")

    # A detached certpickd keeps logging to a file given as stderr.
    log_path = os.path.join(home.root, "autostart.log")
    with open(log_path, "w") as log:
        subprocess.run([os.environ["CERTPICK_CLI"], "decisions"], env=env,
                       stdout=subprocess.DEVNULL, stderr=log, timeout=30,
                       check=True)
    pid = daemon_pid(home)
    client = Client(home.socket)
    check("vendor" in client.call("org.varlink.service.GetInfo")
          ["parameters"], "the second certpickd serves")
    client.close()
    stop(pid)
    with open(log_path) as f:
        log = f.read()
    check(f"started (pid {pid})" in log, f"start logged: {log}")
    check("certpickd stopped" in log, f"stop logged: {log}")


try:
    run(test)
finally:
    for leftover in started_pids:
        if alive(leftover):
            os.kill(leftover, signal.SIGKILL)

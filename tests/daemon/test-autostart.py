#!/usr/bin/python3
"""Without systemd, the certpick command starts certpickd on demand
(cp_agent_connect with autostart). certpickd detaches into its own session
once its socket listens and records its pid in the lock file. It does not
hold the caller's pipes open, does not log into the caller's stderr, and
serves the command that started it and later ones. When it fails to
start, the command shows why."""

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
    def read_pid():
        with open(home.socket + ".lock") as f:
            return f.read().strip()

    # The detached child writes it just after its parent has exited.
    pid = int(wait_until(read_pid, 10, "the pid in the lock file"))
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

    # A certpickd that the command starts does not write its log into the
    # command's stderr, which it would fill for as long as it runs.
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
    check("certpickd" not in log,
          f"certpickd's log is not in the command's stderr: {log!r}")

    # A certpickd started by hand keeps logging to a file given as stderr.
    with open(log_path, "w") as log:
        subprocess.run([os.environ["CERTPICKD"], "--socket", home.socket],
                       env=env, stdout=subprocess.DEVNULL, stderr=log,
                       timeout=30, check=True)
    pid = daemon_pid(home)
    stop(pid)
    with open(log_path) as f:
        log = f.read()
    check(f"started (pid {pid})" in log, f"start logged: {log}")
    check("certpickd stopped" in log, f"stop logged: {log}")

    # When certpickd fails before it listens, the command shows its reason.
    failing = os.path.join(home.root, "failing-certpickd")
    with open(failing, "w") as f:
        f.write("#!/bin/sh\necho 'certpickd: info: starting' >&2\n"
                "echo 'certpickd: error: the store is writable by others' "
                ">&2\nexit 1\n")
    os.chmod(failing, 0o755)
    result = subprocess.run([os.environ["CERTPICK_CLI"], "decisions"],
                            env=dict(env, CERTPICKD=failing),
                            capture_output=True, text=True, timeout=30)
    check_equal(result.returncode, 1, "status when certpickd fails")
    check("exited with status 1 before it listened" in result.stderr and
          "certpickd: error: the store is writable by others"
          in result.stderr,
          f"the command shows certpickd's last line: {result.stderr!r}")

try:
    run(test)
finally:
    for leftover in started_pids:
        if alive(leftover):
            os.kill(leftover, signal.SIGKILL)

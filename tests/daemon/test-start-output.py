#!/usr/bin/python3
"""When certpick starts certpickd (CERTPICKD) and it does not come up, the
command quotes certpickd's last line of stderr. The line comes from another
program, so it reaches the terminal only as printable UTF-8: escape
sequences and bytes that are not UTF-8 become '?'. A start killed by a
signal names the signal, a start that never listens times out with the last
line, and megabytes of stderr before listening do not stall the start."""

import os
import signal
import subprocess

from daemontest import check, check_equal, run, wait_until

started_pids = []


def write_script(home, name, body):
    path = os.path.join(home.root, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def call_with(home, program):
    """Runs certpick call GetInfo with CERTPICKD=program; returns the
    result with stderr as bytes."""
    return subprocess.run(
        [os.environ["CERTPICK_CLI"], "call", "org.varlink.service.GetInfo"],
        env=dict(home.env(), CERTPICKD=program), capture_output=True,
        timeout=30)


def check_printable(stderr, what):
    text = stderr.decode("utf-8", errors="strict")
    check(not any(ord(c) < 0x20 and c != "\n" or ord(c) == 0x7f
                  for c in text),
          f"{what}: control characters in {text!r}")
    return text


def test(home):
    # Escape sequences (an OSC that sets the window title, a colour) and
    # bytes that are not UTF-8, as the last line before exiting.
    hostile = write_script(
        home, "hostile",
        "printf 'starting\\n\\033]0;PWNED\\007\\033[31mred \\377\\376 "
        "\\303\\251t\\303\\251\\n' >&2\nexit 3\n")
    result = call_with(home, hostile)
    check_equal(result.returncode, 1, "status when certpickd exits")
    try:
        text = check_printable(result.stderr, "exit")
    except UnicodeDecodeError as e:
        check(False, f"stderr is not UTF-8 ({e}): {result.stderr!r}")
    check("exited with status 3 before it listened" in text, text)
    check("?]0;PWNED??[31mred ?? \u00e9t\u00e9" in text,
          f"the last line, cleaned: {text!r}")

    # Killed by a signal: the message names it, not a status of -1.
    killed = write_script(home, "killed",
                          "echo 'about to be killed' >&2\nkill -9 $$\n")
    result = call_with(home, killed)
    text = check_printable(result.stderr, "signal")
    check(f"was killed by signal {int(signal.SIGKILL)} before it listened"
          in text and "about to be killed" in text, text)

    # Never listens: its parent exits 0 while a child keeps the pipe open.
    silent = write_script(
        home, "silent",
        "(sleep 8) >/dev/null &\n"
        "echo 'not listening \\033[2J' >&2\nexit 0\n")
    result = call_with(home, silent)
    text = check_printable(result.stderr, "timeout")
    check("did not listen on" in text and
          "its last line: not listening ?[2J" in text, text)

    # 16 MiB of stderr before the real certpickd listens.
    chatty = write_script(
        home, "chatty",
        "head -c 16777216 /dev/zero | tr '\\0' x >&2\n"
        f"exec '{os.environ['CERTPICKD']}' \"$@\"\n")
    result = call_with(home, chatty)
    check_equal(result.returncode, 0,
                f"status after much stderr ({result.stderr[-300:]!r})")
    check(b'"certpickd"' in result.stdout, f"GetInfo: {result.stdout!r}")

    def read_pid():
        with open(home.socket + ".lock") as f:
            return f.read().strip()

    pid = int(wait_until(read_pid, 10, "the pid in the lock file"))
    started_pids.append(pid)
    os.kill(pid, signal.SIGTERM)


try:
    run(test)
finally:
    for leftover in started_pids:
        try:
            os.kill(leftover, signal.SIGKILL)
        except ProcessLookupError:
            pass

#!/usr/bin/python3
"""Runs a command on a new pseudo-terminal and types passwords at its
prompts, one per prompt, as a person would.

    tty-import.py TRANSCRIPT PASSWORD... -- COMMAND...

Writes everything the terminal showed to TRANSCRIPT and exits with the
command's exit status (or 124 when it runs longer than 60 seconds).
"""
import os
import pty
import select
import sys
import time

PROMPT = b"Password for "
TIMEOUT_SECONDS = 60


def main():
    separator = sys.argv.index("--")
    transcript_path = sys.argv[1]
    passwords = [p.encode() for p in sys.argv[2:separator]]
    command = sys.argv[separator + 1:]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)

    shown = b""
    prompts_answered = 0
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the command closed the terminal
                break
            if not data:
                break
            shown += data
        # Answer each prompt once it is complete; the command turns echo
        # off before it writes the prompt, so typing now is not echoed.
        if shown.count(PROMPT) > prompts_answered and shown.endswith(b": "):
            if prompts_answered < len(passwords):
                os.write(fd, passwords[prompts_answered] + b"\n")
            prompts_answered += 1
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit(124)

    with open(transcript_path, "wb") as transcript:
        transcript.write(shown)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()

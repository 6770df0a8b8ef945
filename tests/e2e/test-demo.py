#!/usr/bin/python3
"""tests/demo.sh with the build that exists, without installing packages
or building. Its headless run chooses the first eligible identity, prints
nginx's response and saves a screenshot. With a display it opens the
picker for the person, whom the test plays through AT-SPI. Ctrl-C stops
everything that it started. After each run no process of the demo's
session is left and its temporary folder is gone.

    test-demo.py BUILD_DIR SCREENSHOT_DIR
"""

import os
import re
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import e2etest  # noqa: E402
from e2etest import Failure, check, check_equal, pt  # noqa: E402

DEMO = os.path.join(e2etest.HERE, "..", "demo.sh")

# Seconds for a whole run of the demo; it takes a few.
DEMO_TIMEOUT = 90

# The subjects of the two eligible identities of the demo, as nginx
# reports them.
SUBJECTS = {"Alice P-256": "CN=Alice P-256,O=certpick test",
            "Alice RSA-2048": "CN=Alice RSA-2048,O=certpick test"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Demo:
    """tests/demo.sh in a session of its own, like a command in a
    terminal, with its output collected line by line."""

    def __init__(self, build, *args):
        self.lines = []
        self.process = subprocess.Popen(
            [DEMO, "--no-setup", "--build-dir", build, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)

    def read_until(self, text, timeout=DEMO_TIMEOUT):
        """Reads output until a line contains text and returns the line."""
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.lines.append(line)
            if text in line:
                return line
            if time.monotonic() > deadline:
                break
        raise Failure(f"the demo did not print {text!r}:\n{self.output()}")

    def finish(self, timeout=DEMO_TIMEOUT):
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise Failure(f"the demo ran longer than {timeout} s:\n"
                          f"{self.output()}")
        self.lines.append(rest)
        return self.process.returncode

    def output(self):
        return "".join(self.lines)

    def work_dir(self):
        match = re.search(r"making a demo PKI in (\S+)/pki\n", self.output())
        check(match is not None, f"no temporary folder in:\n{self.output()}")
        return match.group(1)

    def session_processes(self):
        """Processes still running (not zombies) in the demo's session."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(
                        errors="replace")
            except OSError:
                continue
            # The fields after the command name, which is in brackets.
            fields = stat.rsplit(")", 1)[1].split()
            state, session = fields[0], int(fields[3])
            if session == self.process.pid and state != "Z":
                found.append(f"{entry} {command}")
        return found

    def check_cleaned_up(self, scenario):
        work = self.work_dir()
        try:
            pt.wait_for(lambda: not self.session_processes(),
                        "the demo's processes to exit", timeout=10)
        except pt.Failure:
            raise Failure(f"{scenario}: processes left running: "
                          f"{self.session_processes()}")
        check(not os.path.exists(work),
              f"{scenario}: the temporary folder {work} is left")


def chosen_label(demo):
    """Returns the label that the headless run printed as its choice."""
    match = re.search(r"demo: chose: (.+)\n", demo.output())
    check(match is not None, f"no chosen identity in:\n{demo.output()}")
    return match.group(1)


def check_answer(demo, chosen, scenario):
    """Checks that nginx's 200 response names the chosen identity."""
    output = demo.output()
    check(chosen in SUBJECTS, f"{scenario}: chose {chosen!r}, which is not "
                              f"eligible")
    answer = f"demo: nginx responded:\n  verify=SUCCESS subject=" \
             f"{SUBJECTS[chosen]}\n"
    check(answer in output, f"{scenario}: expected {answer!r} in:\n{output}")


def headless(build, shots):
    screenshot = os.path.join(shots, "demo-picker.png")
    if os.path.exists(screenshot):
        os.unlink(screenshot)
    demo = Demo(build, "--headless", "--screenshot", screenshot)
    status = demo.finish()
    check_equal(status, 0, f"exit status of the demo:\n{demo.output()}")
    check_answer(demo, chosen_label(demo), "headless")
    check(f"demo: screenshot of the picker: {screenshot}\n" in
          demo.output(), f"no screenshot path in:\n{demo.output()}")
    with open(screenshot, "rb") as f:
        check_equal(f.read(8), PNG_SIGNATURE, "start of the screenshot")
    print(f"screenshot: {screenshot}", flush=True)
    demo.check_cleaned_up("headless")


def with_display(build):
    """The demo finds this test's X display usable, and certpick connect
    waits for the person; the test chooses as the person would."""
    demo = Demo(build)
    demo.read_until("the picker opens")
    check("no usable display" not in demo.output(),
          f"the demo found no display:\n{demo.output()}")
    app = pt.find_application(timeout=60)
    frame = pt.picker_frame(app, timeout=60)
    label = e2etest.row_label(e2etest.eligible_rows(frame)[0])
    e2etest.select_identity(frame, label)
    e2etest.send(frame)
    status = demo.finish()
    check_equal(status, 0, f"exit status of the demo:\n{demo.output()}")
    check_answer(demo, label, "with a display")
    demo.check_cleaned_up("with a display")


def interrupted(build, shots):
    """Ctrl-C, once every server runs: the terminal sends SIGINT to the
    demo's process group."""
    demo = Demo(build, "--headless", "--screenshot",
                os.path.join(shots, "demo-interrupted.png"))
    demo.read_until("running: certpick connect")
    os.killpg(demo.process.pid, signal.SIGINT)
    status = demo.finish()
    check_equal(status, 130, f"exit status after Ctrl-C:\n{demo.output()}")
    demo.check_cleaned_up("Ctrl-C")


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} BUILD_DIR SCREENSHOT_DIR", file=sys.stderr)
        return 2
    build, shots = argv[1], argv[2]
    try:
        pt.in_private_session(argv)
    except pt.Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    os.makedirs(shots, exist_ok=True)
    window_manager = None
    try:
        window_manager = pt.WindowManager()
        pt.atspi()
        headless(build, shots)
        with_display(build)
        interrupted(build, shots)
        return 0
    except pt.Skip as skip:
        print(f"SKIP: {skip}", file=sys.stderr)
        return pt.SKIP
    except (Failure, pt.Failure):
        traceback.print_exc()
        return 1
    finally:
        if window_manager:
            window_manager.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

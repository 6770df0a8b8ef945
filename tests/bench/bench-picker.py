#!/usr/bin/python3
"""Measures how fast certpick-picker shows a dialog: the time from sending
Choose to the first paint of the mapped window.

    bench-picker.py PICKER PKI_DIR [--runs N]

Cold: the picker process starts together with the request, as when
certpickd starts it for a dialog. Warm: the picker already runs and has
shown a dialog before, as for the next dialog within certpickd's idle
period. Runs under Xvfb and openbox in a private D-Bus session with the
accessibility bus up, as on a desktop, and again without the
accessibility bridge (NO_AT_BRIDGE=1) for comparison.

The picker logs the CLOCK_MONOTONIC time of each paint when
CERTPICK_PICKER_TRACE_PAINT=1; this script reads the same clock. The paint
time is taken when GTK has drawn the window, just before it copies the
drawing to the screen.
"""

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "picker"))

import pickertest as pt  # noqa: E402

CHOOSE = "org.certpick.Picker.Choose"
CLOSE = "org.certpick.Picker.Close"

GOAL_COLD_MS = 250
GOAL_WARM_MS = 50


def summary(name, samples, goal):
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    median = statistics.median(ms)
    verdict = "meets" if median < goal else "misses"
    print(f"{name:<34} median {median:6.1f} ms  p90 {p90:6.1f} ms  "
          f"min {ms[0]:6.1f} ms  max {ms[-1]:6.1f} ms  "
          f"({len(ms)} runs; {verdict} the goal of {goal} ms)", flush=True)
    return median


STEP_RE = re.compile(r'Start-up step "([^"]+)" at monotonic_us=(\d+)')
STEPS = ["main", "display opened", "window built"]


def cold_runs(picker_path, parameters, runs, env):
    """Returns the times to the first paint, and the times from the start
    to each start-up step that the picker logs."""
    samples = []
    steps = {step: [] for step in STEPS}
    for _ in range(runs):
        started = time.monotonic()
        picker = pt.Picker(picker_path, env=env, echo=False)
        picker.send(CHOOSE, parameters)
        painted = picker.wait_for_paint(parameters["dialog"], started)
        samples.append(painted - started)
        picker.close()
        for line in picker.log:
            match = STEP_RE.search(line)
            if match:
                steps[match.group(1)].append(
                    int(match.group(2)) / 1e6 - started)
    return samples, steps


def print_steps(steps):
    for step in STEPS:
        if steps[step]:
            ms = statistics.median(steps[step]) * 1000
            print(f"    {step!r:<20} reached after {ms:6.1f} ms (median)")


def warm_runs(picker_path, parameters, runs, env):
    picker = pt.Picker(picker_path, env=env, echo=False)
    samples = []
    # The first dialog of the process is a cold one; it is not counted.
    for dialog in range(runs + 1):
        shown = dict(parameters, dialog=dialog + 1)
        sent = picker.send(CHOOSE, shown)
        painted = picker.wait_for_paint(dialog + 1, sent)
        if dialog:
            samples.append(painted - sent)
        picker.send(CLOSE, {"dialog": dialog + 1, "reason": "withdrawn"})
        pt.expect_error(picker.receive(), "org.certpick.Picker.Withdrawn",
                        "Choose")
        pt.expect_reply(picker.receive(), "Close")
        # Let the window manager finish with the unmapped window.
        time.sleep(0.1)
    picker.close()
    return samples


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("picker")
    parser.add_argument("pki")
    parser.add_argument("--runs", type=int, default=20,
                        help="dialogs measured per figure (default 20)")
    args = parser.parse_args(argv[1:])

    pt.in_private_session(argv)
    session = pt.WindowManager()
    try:
        # Start the accessibility bus first, as a desktop session has it
        # running before any application starts.
        pt.atspi()
        names = ["p256", "rsa2048", "ed25519", "p384", "expired",
                 "other-issuer", "server-eku"]
        candidates = [pt.candidate(args.pki, name) for name in names]
        parameters = pt.choose_parameters(1, candidates)
        picker_path = os.path.abspath(args.picker)
        print(f"certpick-picker {picker_path}, {len(candidates)} "
              f"candidates, {os.cpu_count()} CPUs", flush=True)

        for label, bridge in (("with the AT-SPI bridge", True),
                              ("NO_AT_BRIDGE=1", False)):
            env = dict(os.environ)
            if not bridge:
                env["NO_AT_BRIDGE"] = "1"
            samples, steps = cold_runs(picker_path, parameters, args.runs,
                                       env)
            summary(f"cold, {label}", samples, GOAL_COLD_MS)
            print_steps(steps)
            summary(f"warm, {label}",
                    warm_runs(picker_path, parameters, args.runs, env),
                    GOAL_WARM_MS)
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

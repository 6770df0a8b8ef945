#!/usr/bin/python3
"""Chooses the first eligible identity in the picker's window, as a person
would, for the headless run of tests/demo.sh. It waits for the window on
AT-SPI, opens the list of excluded identities, saves a screenshot, selects
the first identity that the server accepts and presses Send.

    demo-choose.py SCREENSHOT

Runs in the demo's X and D-Bus session (DISPLAY and DBUS_SESSION_BUS_ADDRESS
set), with a window manager already running. Prints the chosen label.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import e2etest  # noqa: E402
from e2etest import pt  # noqa: E402

# Seconds to wait for the window: certpickd starts the picker at the
# first request, and a sanitizer build starts it slowly.
WINDOW_TIMEOUT = 60


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} SCREENSHOT", file=sys.stderr)
        return 2
    try:
        app = pt.find_application(timeout=WINDOW_TIMEOUT)
        frame = pt.picker_frame(app, timeout=WINDOW_TIMEOUT)
        rows = e2etest.eligible_rows(frame)
        if not rows:
            print("demo-choose: the picker lists no eligible identity",
                  file=sys.stderr)
            return 1
        label = e2etest.row_label(rows[0])
        e2etest.select_identity(frame, label)
        e2etest.excluded_rows(frame)
        pt.screenshot(frame, argv[1])
        e2etest.send(frame)
    except (pt.Failure, pt.Skip, e2etest.Failure) as error:
        print(f"demo-choose: {error}", file=sys.stderr)
        return 1
    print(f"chose: {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

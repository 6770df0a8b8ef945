#!/usr/bin/python3
"""Select takes parent_window only in the forms of xdg-desktop-portal,
"x11:XID" with a hexadecimal XID and "wayland:HANDLE" with printable
ASCII. certpickd passes a valid one to the picker as it came, and rejects
any other value with InvalidParameter before it reaches the picker, which
would log it."""

from daemontest import Client, Daemon, Picker, check_equal, error_of, run

# An XID has 32 bits and 0 is None, as the picker's parse_xid expects.
VALID = ["x11:0x3a00007", "x11:3A00007", "wayland:a1b2-c3d4_e5",
         "x11:0xffffffff", "x11:" + "0" * 200 + "1"]
INVALID = [
    "", "x11:", "x11:0x", "x11:12g4", "x11:0x12 ", "win32:1234",
    "wayland:", "wayland:handle with spaces",
    "wayland:\u202edlrow", "x11:0x1\nforged log line",
    "x11:" + "1" * 300, "x11:0", "x11:0x00000000", "x11:100000000",
    "x11:0x" + "f" * 40, "x11:0x0x1",
]


def test(home):
    home.import_identity("p256")
    picker = Picker(home, {"default": {"choose": "first-eligible"}})
    daemon = Daemon(home, picker).start()
    client = Client(home.socket)

    for index, window in enumerate(VALID):
        host = f"valid{index}.test"
        reply = client.call("Select", {"host": host, "port": 443,
                                       "parent_window": window})
        check_equal(error_of(reply), None, f"Select with {window!r}")
        shown = picker.chooses(host)[0]["parameters"]
        check_equal(shown.get("parent_window"), window,
                    f"the picker gets {window!r} as it came")

    chooses_before = len(picker.chooses())
    for window in INVALID:
        reply = client.call("Select", {"host": "invalid.test", "port": 443,
                                       "parent_window": window})
        check_equal(error_of(reply), "org.varlink.service.InvalidParameter",
                    f"error for {window!r}")
        check_equal(reply["parameters"].get("parameter"), "parent_window",
                    f"the parameter named for {window!r}")
    check_equal(len(picker.chooses()), chooses_before,
                "no invalid handle reached the picker")
    client.close()
    daemon.stop()


run(test)

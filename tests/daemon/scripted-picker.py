#!/usr/bin/python3
"""A picker for tests: serves org.certpick.Picker on the descriptor named by
CERTPICK_PICKER_FD and answers Choose as a script says.

CERTPICK_TEST_PICKER_SCRIPT names a JSON file:

    {"actions": [ACTION, ...],       # used in order, one per Choose
     "by_host": {"HOST": ACTION},    # then by the server's host
     "default": ACTION}              # then this; else "wait"

An ACTION is an object with these optional members:

    choose      an identity id, "label:LABEL", "first-eligible" (the
                default), "preselected" (else the first eligible), or
                null for "send no certificate"
    remember    "once" (default), "session" or "always"
    passphrase  sent with the choice
    delay       seconds to wait before answering
    wait        true: never answer; Close makes Choose fail with Withdrawn
    dismiss     true: fail with Dismissed
    error       another error name of the interface, such as
                "DisplayUnavailable", or a whole error name with dots
    crash       true: exit with status 3 without answering (after delay)
    garbage     true: send bytes that are not a Varlink message

The position in "actions" is kept in SCRIPT.state, so that a restarted
picker carries on. Every message received is appended, as one JSON line
with the picker's pid and the message's size in bytes (its NUL included),
to the file CERTPICK_TEST_PICKER_LOG.
"""

import json
import os
import selectors
import socket
import sys
import time

IFACE = "org.certpick.Picker"


def log(entry):
    entry["pid"] = os.getpid()
    with open(os.environ["CERTPICK_TEST_PICKER_LOG"], "a") as f:
        f.write(json.dumps(entry) + "\n")


def next_action(script_path, host):
    with open(script_path) as f:
        script = json.load(f)
    state_path = script_path + ".state"
    try:
        with open(state_path) as f:
            index = int(f.read() or "0")
    except FileNotFoundError:
        index = 0
    actions = script.get("actions", [])
    if index < len(actions):
        with open(state_path, "w") as f:
            f.write(str(index + 1))
        return actions[index]
    if host in script.get("by_host", {}):
        return script["by_host"][host]
    return script.get("default", {"wait": True})


def chosen_id(action, parameters):
    choose = action.get("choose", "first-eligible")
    candidates = parameters["candidates"]
    if choose is None:
        return None
    if choose == "preselected" and parameters.get("preselected"):
        return parameters["preselected"]
    if choose in ("first-eligible", "preselected"):
        eligible = [c["id"] for c in candidates if c["eligible"]]
        return eligible[0] if eligible else None
    if choose.startswith("label:"):
        for c in candidates:
            if c["label"] == choose[6:]:
                return c["id"]
        raise SystemExit("scripted picker: no candidate labelled " + choose)
    return choose


class Picker:
    def __init__(self, sock, script_path):
        self.sock = sock
        self.script_path = script_path
        self.buffer = b""
        self.pending = None  # (dialog, due time or None, reply message)

    def send(self, message):
        self.sock.sendall(json.dumps(message).encode() + b"\0")

    def choose(self, parameters):
        action = next_action(self.script_path,
                             parameters["server"]["host"])
        log({"action": action})
        dialog = parameters["dialog"]
        if action.get("crash") and action.get("delay"):
            self.pending = (dialog, time.monotonic() + action["delay"],
                            "crash")
            return
        if action.get("crash"):
            os._exit(3)
        if action.get("garbage"):
            self.sock.sendall(b"{not json\0")
            return
        if action.get("wait"):
            self.pending = (dialog, None, None)
            return
        if action.get("dismiss"):
            reply = {"error": IFACE + ".Dismissed",
                     "parameters": {"dialog": dialog}}
        elif action.get("error"):
            name = action["error"]
            reply = {"error": name if "." in name else IFACE + "." + name,
                     "parameters": {"reason": "scripted"}}
        else:
            answer = {"id": chosen_id(action, parameters),
                      "remember": action.get("remember", "once")}
            if "passphrase" in action:
                answer["passphrase"] = action["passphrase"]
            reply = {"parameters": answer}
        delay = action.get("delay", 0)
        if delay:
            self.pending = (dialog, time.monotonic() + delay, reply)
        else:
            self.send(reply)

    def close(self, parameters):
        if self.pending and self.pending[0] == parameters["dialog"]:
            self.send({"error": IFACE + ".Withdrawn",
                       "parameters": {"dialog": parameters["dialog"]}})
            self.pending = None
        self.send({"parameters": {}})

    def handle(self, message, size):
        log({"method": message.get("method"),
             "parameters": message.get("parameters", {}), "size": size})
        method = message.get("method", "")
        parameters = message.get("parameters", {})
        if method == IFACE + ".Choose":
            self.choose(parameters)
        elif method == IFACE + ".Close":
            self.close(parameters)
        else:
            self.send({"error": "org.varlink.service.MethodNotFound",
                       "parameters": {"method": method}})

    def timeout(self):
        if not self.pending or self.pending[1] is None:
            return None
        return max(0, self.pending[1] - time.monotonic())

    def run(self):
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ)
        while True:
            events = selector.select(self.timeout())
            if not events:
                _, _, reply = self.pending
                self.pending = None
                if reply == "crash":
                    os._exit(3)
                self.send(reply)
                continue
            data = self.sock.recv(65536)
            if not data:
                log({"event": "eof"})
                return
            self.buffer += data
            while b"\0" in self.buffer:
                frame, self.buffer = self.buffer.split(b"\0", 1)
                self.handle(json.loads(frame), len(frame) + 1)


def main():
    fd = int(os.environ["CERTPICK_PICKER_FD"])
    log({"event": "start", "fd": fd, "argv": sys.argv[1:],
         "listen_fds": os.environ.get("LISTEN_FDS"),
         "stdin_is_null": os.path.samestat(os.fstat(0),
                                           os.stat("/dev/null"))})
    sock = socket.socket(fileno=fd)
    Picker(sock, os.environ["CERTPICK_TEST_PICKER_SCRIPT"]).run()


if __name__ == "__main__":
    main()

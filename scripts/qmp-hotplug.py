#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host half of the hot-unplug test of scripts/vm-stress.sh.

Follows the guest's result file (its second serial port) and, through
QEMU's QMP socket, removes the device when the guest writes
"hotplug: unplug N" and adds it back when it writes "hotplug: replug N".
Each step is logged on stdout; it stops when the guest writes "done", when
QEMU goes away, or after --timeout seconds (0, the default: no limit; the
caller kills it when QEMU exits).

  qmp-hotplug.py SOCKET RESULTS --id disk1 --add 'driver=...,id=disk1,...'
"""
import argparse
import json
import socket
import sys
import time


class Qmp:
    """A minimal QMP client: one command at a time, events logged."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        # QEMU creates the socket when it starts: a busy host may take a
        # while, so wait for it as long as the socket is not there
        for _ in range(6000):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"qmp: cannot connect to {path}")
        self.f = self.sock.makefile("rw")
        self.f.readline()
        self.events = []
        self.cmd("qmp_capabilities")

    def _read(self):
        msg = json.loads(self.f.readline())
        if "event" in msg:
            print(f"qmp: event {msg['event']} {msg.get('data', {})}", flush=True)
            self.events.append((msg["event"], msg.get("data", {})))
        return msg

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            msg = self._read()
            if "return" in msg or "error" in msg:
                print(f"qmp: {name} {args} -> {msg}", flush=True)
                return msg

    def seen(self, name, device):
        """An event NAME whose data names DEVICE (any data if None)."""
        return any(e == name and (device is None or d.get("device") == device)
                   for e, d in self.events)

    def wait_event(self, name, timeout, device=None):
        """Wait for seen(NAME, DEVICE): QEMU sends DEVICE_DELETED for the
        virtio backend first and for the device itself last, and only
        then is its id free for device_add."""
        self.sock.settimeout(timeout)
        try:
            while not self.seen(name, device):
                self._read()
        except (socket.timeout, OSError):
            pass
        finally:
            self.sock.settimeout(None)
        found = self.seen(name, device)
        self.events.clear()
        return found


def device_args(spec):
    """'driver=x,id=y,k=v' -> dict for device_add."""
    out = {}
    for kv in spec.split(","):
        k, v = kv.split("=", 1)
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("results")
    ap.add_argument("--id", required=True)
    ap.add_argument("--add", required=True)
    ap.add_argument("--timeout", type=int, default=0)
    a = ap.parse_args()

    q = Qmp(a.socket)
    done = set()
    end = time.time() + a.timeout if a.timeout else None
    while end is None or time.time() < end:
        try:
            with open(a.results, errors="replace") as f:
                lines = [l.strip() for l in f]
        except OSError:
            lines = []
        for line in lines:
            if line in done or not line.startswith("hotplug: "):
                continue
            done.add(line)
            if line.startswith("hotplug: unplug"):
                q.cmd("device_del", id=a.id)
                # the guest's pciehp and driver removal take what they
                # take (KASAN under TCG); 20 min without the event is a hang
                ok = q.wait_event("DEVICE_DELETED", 1200, device=a.id)
                print(f"qmp: {line}: DEVICE_DELETED {'seen' if ok else 'NOT seen'}",
                      flush=True)
            elif line.startswith("hotplug: replug"):
                q.cmd("device_add", **device_args(a.add))
        if "done" in lines:
            break
        time.sleep(0.3)


if __name__ == "__main__":
    main()

"""Drives the generated Python bindings of cti-mobile-bindings against a running pbx-server.

Usage: cti_session.py <cti host:port>. Prints READY once logged in, then waits for extension
202 to ring, talk and go idle (the Rust test makes a SIPp call meanwhile), then exercises
commands. Exit status 0 on success; a message on stderr otherwise.
"""
import asyncio
import os
import queue
import sys

import cti_mobile_bindings as cti


class Listener(cti.CtiListener):
    def __init__(self):
        self.events = queue.Queue()

    def on_connection(self, live, resumed):
        self.events.put(("connection", live, resumed))

    def on_lamp(self, lamp):
        self.events.put(("lamp", lamp.number, lamp.lamp, lamp.peer))


def wait_lamps(listener, ext, wanted, timeout=20.0):
    seen = []
    while seen[-len(wanted):] != wanted:
        kind, *rest = listener.events.get(timeout=timeout)
        if kind == "lamp" and rest[0] == ext:
            if not seen or seen[-1] != rest[1]:
                seen.append(rest[1])
    return seen


async def main(addr):
    listener = Listener()
    session = cti.CtiSession.connect(addr, "205", "demo205", listener)
    if not await session.wait_live(10_000):
        sys.exit("not logged in")
    lamps = {l.number: l.lamp for l in session.lamps()}
    assert len(lamps) == 8, lamps
    print("READY", flush=True)
    seen = wait_lamps(listener, "202", ["ringing", "busy", "idle"])
    print("LAMPS 202", " ".join(seen), flush=True)
    await session.set_dnd(True)
    try:
        await session.hangup("no-such-call")
        sys.exit("hangup of an unknown call succeeded")
    except cti.CtiError.Server as e:
        assert e.code == "not_found", e.code
    session.register_push_token("fcm:abc123")
    assert session.push_token() == "fcm:abc123"
    await session.stop()
    print("OK", flush=True)


asyncio.run(main(sys.argv[1]))
# The library's runtime threads outlive the interpreter; a ctypes call into a finalizing
# interpreter aborts the process, so leave without finalization once everything is checked.
sys.stdout.flush()
os._exit(0)

"""Drives the generated Python bindings of cti-mobile-bindings against a running pbx-server.

Usage: cti_session.py <cti host:port> <sip ip:port>. Prints READY once logged in, then waits
for extension 202 to ring, talk and go idle (the Rust test makes a SIPp call meanwhile),
exercises commands, then places a call between two softphones (206 sends 1 kHz, 207 sends
2 kHz) and checks what each one heard. Exit status 0 on success; a message on stderr otherwise.
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


class PhoneListener(cti.SoftPhoneListener):
    def __init__(self):
        self.events = queue.Queue()

    def on_registration(self, registered):
        self.events.put(("registration", registered))

    def on_incoming(self, call, number):
        self.events.put(("incoming", call, number))

    def on_call_state(self, call, state):
        self.events.put(("state", call, state))

    def on_dtmf(self, call, digit):
        self.events.put(("dtmf", call, digit))


def wait_for(listener, kind, timeout=15.0):
    while True:
        event = listener.events.get(timeout=timeout)
        if event[0] == kind:
            return event


async def phone_call(sip):
    la, lb = PhoneListener(), PhoneListener()
    a = await cti.SoftPhone.start(sip, "206", "demo206", 1000.0, la)
    b = await cti.SoftPhone.start(sip, "207", "demo207", 2000.0, lb)
    assert await a.wait_registered(10_000) and await b.wait_registered(10_000)
    call_a = await a.call("207")
    _, call_b, number = await asyncio.to_thread(wait_for, lb, "incoming")
    assert number == "206", number
    await b.answer(call_b)
    await asyncio.sleep(2.0)
    heard_a = a.heard_tone_share(call_a, 2000.0, [1000.0])
    heard_b = b.heard_tone_share(call_b, 1000.0, [2000.0])
    print(f"AUDIO a_heard_2k={heard_a:.2f} b_heard_1k={heard_b:.2f}", flush=True)
    assert heard_a > 0.5 and heard_b > 0.5, (heard_a, heard_b)
    await a.hangup(call_a)
    await a.stop()
    await b.stop()


async def main(addr, sip):
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
    await phone_call(sip)
    await session.stop()
    print("OK", flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
# The library's runtime threads outlive the interpreter; a ctypes call into a finalizing
# interpreter aborts the process, so leave without finalization once everything is checked.
sys.stdout.flush()
os._exit(0)

"""CommandMatcher alone: replies matched by token whatever their order, lost replies as a
timeout naming the command, late replies ignored, everything failed when the link drops."""

from __future__ import annotations

import threading

import pytest

from glovecoach.link.commands import CommandMatcher, DeviceCommandError
from glovecoach.link.transport import LinkLost
from glovecoach.wire.messages import Ack, Command, ErrorCode, ErrorReply


def ack(pending, **detail) -> Ack:
    return Ack(pending.token, pending.command, detail)


def test_replies_in_any_order_settle_their_own_commands():
    matcher = CommandMatcher()
    start, ping, info = (matcher.register(c) for c in (Command.START, Command.PING, Command.INFO))
    assert len({start.token, ping.token, info.token}) == 3
    # The device answers in reverse order (a slow START, a quick PING and INFO).
    for pending, detail in ((info, {}), (ping, {"nonce": 7}), (start, {"rate_hz": 200})):
        assert matcher.resolve(ack(pending, **detail))
    assert matcher.wait(ping, 0.1).detail == {"nonce": 7}
    assert matcher.wait(start, 0.1).command == Command.START
    assert matcher.wait(info, 0.1).token == info.token
    assert matcher.in_flight == 0


def test_a_reply_from_another_thread_wakes_the_waiter():
    matcher = CommandMatcher()
    pending = matcher.register(Command.STOP)
    threading.Timer(0.05, matcher.resolve, [ack(pending)]).start()
    assert matcher.wait(pending, 2.0).command == Command.STOP


def test_a_lost_reply_is_a_timeout_naming_the_command_and_its_late_reply_is_ignored():
    matcher = CommandMatcher()
    pending = matcher.register(Command.SET_RATE)
    with pytest.raises(TimeoutError, match="SET_RATE: no reply from GC-1 within 0.05 s"):
        matcher.wait(pending, 0.05, "GC-1")
    assert matcher.in_flight == 0
    assert not matcher.resolve(ack(pending))  # too late: nobody waits for it
    # A later command never gets the token of one still in flight, and works normally.
    again = matcher.register(Command.SET_RATE)
    assert matcher.resolve(ack(again)) and matcher.wait(again, 0.1)


def test_an_error_reply_raises_with_the_device_s_code_and_message():
    matcher = CommandMatcher()
    pending = matcher.register(Command.SET_RATE)
    matcher.resolve(ErrorReply(pending.token, Command.SET_RATE, ErrorCode.BAD_ARGUMENT, "rate_hz: 7"))
    with pytest.raises(DeviceCommandError, match="SET_RATE refused by the device: BAD_ARGUMENT: rate_hz: 7"):
        matcher.wait(pending, 0.1)


def test_the_link_dropping_fails_every_command_in_flight():
    matcher = CommandMatcher()
    a, b = matcher.register(Command.START), matcher.register(Command.TARE)
    matcher.fail_all(LinkLost("unplugged"))
    for pending in (a, b):
        with pytest.raises(LinkLost, match="unplugged"):
            matcher.wait(pending, 0.1)
    assert matcher.in_flight == 0


def test_tokens_skip_those_in_flight_and_the_reserved_ones():
    matcher = CommandMatcher()
    held = matcher.register(Command.START)
    seen = set()
    for _ in range(0xFFFE):  # more than a full cycle of tokens
        pending = matcher.register(Command.PING)
        seen.add(pending.token)
        matcher.release(pending)
    assert held.token not in seen
    assert not {0, 0xFFFE, 0xFFFF} & seen

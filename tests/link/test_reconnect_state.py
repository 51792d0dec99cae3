"""Reconnection and StallWatch alone, with times given by the test."""

from __future__ import annotations

from glovecoach.link.reconnect import Reconnection, ReconnectPolicy, StallWatch


def test_a_reconnect_holds_samples_and_asks_info_until_the_hello():
    link = Reconnection(ReconnectPolicy(hello_retry_s=0.5))
    link.opened()
    assert link.state == "connecting" and not link.reconnecting  # the first connect asks itself
    assert not link.info_due(0.0)
    link.hello_received()
    assert link.state == "up"
    link.lost()
    assert link.state == "down"
    link.reopened()
    assert link.state == "connecting" and link.reconnecting and link.reconnects == 1
    assert link.info_due(10.0)            # at once after the reopen
    assert not link.info_due(10.3)        # then every hello_retry_s
    assert link.info_due(10.5)
    link.hold("batch-1", 10.1)
    link.hold("batch-2", 10.2)
    was_awaiting, reconnected, held = link.hello_received()
    assert (was_awaiting, reconnected) == (True, True)
    assert held == [("batch-1", 10.1), ("batch-2", 10.2)] and link.held == []
    assert not link.info_due(20.0) and link.state == "up"


def test_a_reopen_forgets_samples_held_before_an_earlier_loss():
    link = Reconnection()
    link.opened()
    link.hello_received()
    link.lost()
    link.reopened()
    link.hold("old", 1.0)
    link.lost()
    link.reopened()
    assert link.reconnects == 2 and link.hello_received()[2] == []


def test_a_stall_is_reported_once_and_ends_with_the_next_samples():
    watch = StallWatch(timeout=1.0, now=100.0)
    assert watch.check(100.9, watching=True) is None
    assert watch.check(101.2, watching=False) is None      # not streaming: silence is fine
    silent = watch.check(101.2, watching=True)
    assert silent is not None and abs(silent - 1.2) < 1e-9 and watch.stalled_at == 100.0
    assert watch.check(105.0, watching=True) is None       # reported once
    assert watch.progress(105.5) == 5.5                    # resumed after 5.5 s of silence
    assert watch.stalled_at is None and watch.check(106.0, watching=True) is None
    assert watch.check(106.6, watching=True) is not None   # a second stall, from 105.5


def test_streaming_requested_restarts_the_silence_clock():
    watch = StallWatch(timeout=1.0, now=0.0)
    watch.restart_clock(5.0)
    assert watch.check(5.9, watching=True) is None
    watch.status_seen()
    assert watch.status_since_progress
    watch.progress(6.0)
    assert not watch.status_since_progress
    watch.clear()  # the link went down: no stall to resume from
    assert watch.stalled_at is None

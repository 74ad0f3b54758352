"""A fault of the machine holds the work until its probe passes, trying it after a growing wait."""

from __future__ import annotations

import threading

from mocapd.service.pause import MAX_WAIT_SECONDS, EnvironmentPause


def test_the_probe_is_tried_after_a_wait_that_doubles_and_the_pause_ends_when_it_passes() -> None:
    now = [0.0]
    answers = ["still full", "still full", None]
    tries: list[float] = []

    def probe() -> str | None:
        tries.append(now[0])
        return answers.pop(0)

    pause = EnvironmentPause(1.0, clock=lambda: now[0])
    assert not pause.poll()
    pause.hold("disk full", probe)
    assert pause.reason == "disk full"
    for moment in (0.5, 1.0, 2.0, 3.0, 5.0, 7.0):
        now[0] = moment
        pause.poll()
    assert tries == [1.0, 3.0, 7.0]  # waits of 1, 2 then 4 s; the third try passes
    assert pause.reason is None and not pause.poll()
    pause.succeeded()
    pause.hold("again", lambda: None)
    now[0] += 1.0
    assert pause.wait(threading.Event(), step=0.0)


def test_the_wait_is_bounded_and_a_stop_ends_it() -> None:
    now = [0.0]
    pause = EnvironmentPause(400.0, clock=lambda: now[0])
    pause.hold("outbox read-only", lambda: "still read-only")
    pause.hold("outbox read-only", lambda: "still read-only")
    assert pause._wait == MAX_WAIT_SECONDS
    stop = threading.Event()
    stop.set()
    assert pause.wait(stop, step=0.0) is False

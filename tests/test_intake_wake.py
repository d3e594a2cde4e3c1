"""Waking the alert processor: at most one attempt per gap in each process, and none lost."""

import threading
import time

from incidents.intake.wake import Coalescer


class Calls:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def __call__(self) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> int:
        with self.lock:
            self.arrived.wait_for(lambda: len(self.times) >= count, timeout)
            return len(self.times)


def test_the_first_request_wakes_at_once_and_a_burst_gets_one_trailing_wake_up() -> None:
    calls = Calls()
    wake = Coalescer(calls)
    started = time.monotonic()
    wake(0.2)
    assert len(calls.times) == 1  # at once, in the caller's thread
    for _ in range(50):
        wake(0.2)
    assert len(calls.times) == 1
    assert calls.wait_for(2) == 2
    # The trailing wake-up came at the end of the gap, after every request of the burst.
    assert calls.times[1] - started >= 0.2
    time.sleep(0.3)
    assert len(calls.times) == 2  # one trailing wake-up for the whole burst, not one per request


def test_after_the_gap_the_next_request_wakes_at_once_again() -> None:
    calls = Calls()
    wake = Coalescer(calls)
    wake(0.05)
    time.sleep(0.1)
    wake(0.05)
    assert len(calls.times) == 2


def test_a_request_just_after_the_trailing_wake_up_is_not_lost() -> None:
    calls = Calls()
    wake = Coalescer(calls)
    wake(0.1)
    wake(0.1)  # arms the trailing wake-up
    assert calls.wait_for(2) == 2
    wake(0.1)  # inside the new gap that the trailing wake-up started: arms another
    assert calls.wait_for(3) == 3


def test_no_gap_wakes_every_time() -> None:
    calls = Calls()
    wake = Coalescer(calls)
    for _ in range(5):
        wake(0)
    assert len(calls.times) == 5


def test_a_failing_trailing_wake_up_does_not_stop_later_ones() -> None:
    outcomes: list[str] = []
    done = threading.Event()

    def flaky() -> None:
        outcomes.append("call")
        if len(outcomes) == 2:
            done.set()
            raise ConnectionError("the broker is away")
        if len(outcomes) == 4:
            done.set()

    wake = Coalescer(flaky)
    wake(0.05)
    wake(0.05)
    assert done.wait(5)
    done.clear()
    time.sleep(0.1)
    wake(0.05)
    wake(0.05)
    assert done.wait(5)
    assert outcomes == ["call"] * 4

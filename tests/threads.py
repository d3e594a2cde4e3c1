"""Running pieces of a test at the same instant, each in a thread with its own database connection."""

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def run_together(work: Sequence[Callable[[], Any]], *, timeout: float = 60) -> list[Any]:
    """Start every callable in its own thread, release them together, and return their results in order."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results

"""Work that every save would repeat, done once when a domain operation ends.

Opening an incident saves the incident, its services and two SLA clocks, and
each of those saves would rewrite the same report facts. Inside
`work_unit()` a signal handler records what it would have done instead
(`pending`), and the unit runs each kind of pending work once as it ends,
still inside the caller's transaction, so what commits is the same as before.

A unit also holds what its work reads many times and nobody changes meanwhile
(`remembered`): a business calendar is loaded once for all the clocks of a batch.

Units nest: only the outermost one runs the work, so an alert batch that
opens and resolves many incidents writes their facts together at the end.
Open a unit inside the transaction it belongs to; if the block raises, the
pending work is dropped with the rollback it would have followed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

Flush = Callable[[dict[Any, Any]], None]
T = TypeVar("T")

_unit: ContextVar[dict[str, tuple[Flush, dict[Any, Any]]] | None] = ContextVar("work_unit", default=None)


@contextmanager
def work_unit() -> Iterator[None]:
    if _unit.get() is not None:
        yield
        return
    pending: dict[str, tuple[Flush, dict[Any, Any]]] = {}
    token = _unit.set(pending)
    try:
        yield
        # The work may save records itself; what it would defer then runs at once.
        _unit.set(None)
        for flush, state in pending.values():
            if state:
                flush(state)
    finally:
        _unit.reset(token)


def pending(name: str, flush: Flush) -> dict[Any, Any] | None:
    """The open unit's record of work `name`, to be handed to `flush` as the unit ends; None outside a unit."""
    unit = _unit.get()
    if unit is None:
        return None
    if name not in unit:
        unit[name] = (flush, {})
    return unit[name][1]


def _nothing(state: dict[Any, Any]) -> None:
    return None


def remembered(name: str, key: Hashable, load: Callable[[], T]) -> T:
    """`load()`, run once per open unit for each `key` of `name` and kept for the rest of it; every time outside a unit."""
    memo = pending(f"memo:{name}", _nothing)
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return cast(T, memo[key])

"""Two people acting on one incident at once: exactly one transition wins."""

import functools
from typing import Any

import pytest

from incidents import lifecycle
from incidents.exceptions import IncidentConflict
from incidents.models import Incident
from tests.threads import run_together


@pytest.mark.django_db
def test_a_transition_decided_on_a_stale_state_is_a_conflict(make_incident: Any, agent: Any, manager: Any) -> None:
    seen_by_agent = make_incident()
    seen_by_manager = Incident.objects.get(pk=seen_by_agent.pk)

    lifecycle.acknowledge_incident(incident=seen_by_agent, actor=agent)
    with pytest.raises(IncidentConflict) as conflict:
        lifecycle.cancel_incident(incident=seen_by_manager, actor=manager, reason="Looks like a false alarm")

    assert conflict.value.state == "acknowledged"
    assert "cancel" in conflict.value.allowed
    fresh = Incident.objects.get(pk=seen_by_agent.pk)
    assert fresh.state == "acknowledged"
    assert list(fresh.timeline.filter(kind="transition").values_list("data__transition", flat=True)) == ["acknowledge"]


def _send(client: Any, path: str, body: dict[str, str]) -> int:
    return int(client.post(path, body, format="json").status_code)


def _race(requests: list[tuple[Any, str, dict[str, str]]]) -> list[int]:
    """Send the requests from one thread each, released together; return the status codes."""
    return run_together([functools.partial(_send, *request) for request in requests])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["acknowledge", "investigate", "cancel"])
def test_concurrent_transitions_on_postgres_exactly_one_wins(
    make_incident: Any, agent: Any, manager: Any, api: Any, second: str
) -> None:
    for _round in range(5):
        incident = make_incident()
        base = f"/api/v1/incidents/{incident.number}/transitions/"
        codes = _race(
            [
                (api(agent), base + "acknowledge/", {}),
                (api(manager), base + f"{second}/", {"reason": "Duplicate report"}),
            ]
        )
        transitions = Incident.objects.get(pk=incident.pk).timeline.filter(kind="transition")
        if second == "acknowledge" or codes.count(200) == 1:
            assert sorted(codes) == [200, 409]
            assert transitions.count() == 1
        else:
            # The second request started after the first had committed: it saw
            # the new state and was entitled to act on it. Still no lost write.
            assert codes == [200, 200]
            assert transitions.count() == 2

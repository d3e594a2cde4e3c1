"""Helpers the incident page's tests share (tests/test_web_incident*.py)."""

import re
from typing import Any

from django.test import Client

from incidents.models import Incident


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(client: Client, incident: Incident, query: str = "") -> str:
    response = client.get(f"/incidents/{incident.number}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def post(client: Client, incident: Incident, rest: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(f"/incidents/{incident.number}/{rest}", data or {})


def field_error(html: str, field_id: str) -> str:
    """The text of the error shown under the field with this id ("" if none)."""
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}_error" role="alert">(.*?)</p>', html, re.S)
    return found.group(1).strip() if found else ""


def non_field_errors(html: str) -> str:
    found = re.findall(r'<div class="error" role="alert">(.*?)</div>', html, re.S)
    return " ".join(found)


def section(html: str, anchor: str) -> str:
    """The HTML of the page's section with this heading id ("" if the page has none)."""
    found = re.search(rf'<section aria-labelledby="{anchor}".*?</section>', html, re.S)
    return found.group(0) if found else ""


def selected(html: str, name: str, value: str) -> bool:
    """Whether the select `name` shows `value` chosen (what was typed kept)."""
    found = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    return bool(found and re.search(rf'<option value="{re.escape(value)}"[^>]*selected', found.group(1)))

"""Small helpers the admin tests share."""

from typing import Any

from django.contrib.messages import get_messages
from django.db.models import Model
from django.urls import reverse


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def message_texts(response: Any) -> list[str]:
    """The messages the admin left for the user, also across a redirect."""
    return [str(message) for message in get_messages(response.wsgi_request)]

"""The project's URL fields: an address typed without a scheme is read as https, without Django 5.2's warning."""

import warnings

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Field, Model

from escalation.models import WebhookSubscription
from incidents.models import Incident, UpdateSubscription


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Incident, "war_room_url"),
        (Incident, "chat_channel_url"),
        (WebhookSubscription, "url"),
        (UpdateSubscription, "url"),
    ],
)
def test_a_url_typed_without_a_scheme_is_read_as_https(model: type[Model], name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django 5.2 warns for a form field built without a scheme to assume
        model_field = model._meta.get_field(name)
        assert isinstance(model_field, Field)
        field = model_field.formfield()
    assert field is not None
    assert field.clean("meet.example.com/room-7") == "https://meet.example.com/room-7"
    assert field.clean("http://intranet.example.com/bridge") == "http://intranet.example.com/bridge"  # as typed
    with pytest.raises(ValidationError):
        field.clean("not a url")


def test_migrations_see_a_plain_url_field() -> None:
    _, path, _, _ = Incident._meta.get_field("war_room_url").deconstruct()
    assert path == "django.db.models.URLField"

"""Model fields with the project's defaults."""

from typing import Any

from django import forms
from django.db import models


class HttpsURLField(models.URLField):
    """A URL field whose forms read an address typed without a scheme as https, not http.

    Django 6 makes https the default; until then each form field is told so
    (Django 5.2 warns about every form built without it). Migrations see a
    plain URLField: nothing about the column changes.
    """

    def formfield(self, **kwargs: Any) -> forms.Field | None:
        return super().formfield(**{"assume_scheme": "https", **kwargs})

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.URLField", args, kwargs

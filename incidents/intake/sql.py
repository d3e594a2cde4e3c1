"""Statements the intake writes out itself, on its hottest paths, with names taken from the models."""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Field, Model


def concrete_fields(model: type[Model], names: Sequence[str]) -> list[Field]:
    fields = []
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, Field) or not field.column:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        fields.append(field)
    return fields


def column(field: Field) -> str:
    return connection.ops.quote_name(str(field.column))


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)

"""Statements the intake writes out itself, on its hottest paths, with names taken from the models."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
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


class _Prepared(psycopg.Cursor[Any]):
    """psycopg's server-binding cursor, asking for every statement it runs to be prepared."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL parses and plans once per connection, then only runs.

    For a statement sent thousands of times a second: parsing, analysing and
    planning the intake's INSERT was a third of PostgreSQL's CPU for it.
    Django's cursors bind parameters in the client, into the statement's text,
    so nothing they send can be prepared; this one binds them on the server and
    asks for each statement to be prepared (psycopg keeps the statements of a
    connection, the most recent hundred). Where prepared statements are off
    (DATABASE_PREPARED_STATEMENTS, and always on SQLite) it is Django's cursor;
    so it is while queries are being recorded (DEBUG, or a test capturing
    them), since Django can record a statement only as its own cursors send it.
    """
    if not settings.DATABASE_PREPARED_STATEMENTS or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _Prepared(connection.connection)
    with CursorWrapper(raw, connection) as cursor:
        yield cursor

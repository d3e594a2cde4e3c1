"""django-simple-history for incidents, fitted to how often an incident is saved.

An incident is saved at every transition, and each save writes a history row
with a copy of the incident's services. The library reads those services
back through the ORM and, because `updated_at` is left out of the history,
first reloads the incident to fill it in: two queries and a few model
instances for every row. Here the copy is one INSERT … SELECT from the
services table.

`record_created` writes a new incident's first row once its services are
set, so that the audit trail opens with one "created" row that already
names them, instead of a bare "created" row followed by a "changed" one.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from simple_history.models import HistoricalRecords


class IncidentHistory(HistoricalRecords):
    def contribute_to_class(self, cls: type[models.Model], name: str) -> None:
        super().contribute_to_class(cls, name)
        cls._history_records = self  # type: ignore[attr-defined] # for record_created

    def create_historical_record_m2ms(self, history_instance: Any, instance: models.Model) -> None:
        quote = connection.ops.quote_name
        for field in history_instance._history_m2m_fields:
            through = getattr(type(instance), field.name).through
            copy = self.m2m_models[field]
            columns = [quote(column.column) for column in through._meta.concrete_fields]
            owner = quote(through._meta.get_field(field.m2m_field_name()).column)
            history = quote(copy._meta.get_field("history").column)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {quote(copy._meta.db_table)} ({', '.join(columns)}, {history}) "  # noqa: S608 — names from the models
                    f"SELECT {', '.join(columns)}, %s FROM {quote(through._meta.db_table)} WHERE {owner} = %s",
                    [history_instance.pk, instance.pk],
                )


def record_created(instance: models.Model) -> None:
    """Write the "created" history row of `instance`, saved with `skip_history_when_saving` set."""
    del instance.skip_history_when_saving  # type: ignore[attr-defined]
    type(instance)._history_records.create_historical_record(instance, "+")  # type: ignore[attr-defined]

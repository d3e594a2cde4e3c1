"""Add a country's public holidays to a business calendar.

Safe to run again: each date is looked up before it is added, and a date the
calendar already has keeps the name it was given.
"""

import datetime as dt
from typing import Any

import holidays
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from escalation.models import BusinessCalendar, Holiday

NAME_LENGTH = Holiday._meta.get_field("name").max_length or 120


def public_holidays(country: str, years: list[int], subdiv: str | None) -> dict[dt.date, str]:
    """The country's public holidays in those years, one name per date (several joined)."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise CommandError(
            f"Unknown country {country!r}: use an ISO 3166-1 alpha-2 code the holidays package knows, e.g. ID, SG, US."
        )
    try:
        found = holidays.country_holidays(country, subdiv=subdiv, years=years)
    except NotImplementedError as error:
        known = ", ".join(supported[country]) or "none"
        raise CommandError(f"{country} has no subdivision {subdiv!r} (known: {known}).") from error
    return {day: "; ".join(found.get_list(day))[:NAME_LENGTH] for day in sorted(found)}


class Command(BaseCommand):
    help = "Add the public holidays of COUNTRY (ISO code, e.g. ID) to the business calendar CALENDAR_NAME."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("calendar_name", metavar="CALENDAR_NAME", help="The business calendar's name.")
        parser.add_argument("country", metavar="COUNTRY", help="ISO 3166-1 alpha-2 country code, e.g. ID.")
        parser.add_argument(
            "--years", nargs="+", type=int, metavar="YEAR", help="The years to add (default: this year)."
        )
        parser.add_argument("--subdiv", help="A subdivision (province, state) with its own holidays.")

    def handle(
        self, *args: Any, calendar_name: str, country: str, years: list[int] | None, subdiv: str | None, **options: Any
    ) -> None:
        calendar = BusinessCalendar.objects.filter(name=calendar_name).first()
        if calendar is None:
            known = ", ".join(BusinessCalendar.objects.order_by("name").values_list("name", flat=True)[:20])
            raise CommandError(f"No business calendar named {calendar_name!r} (there are: {known or 'none'}).")
        country = country.strip().upper()
        years = sorted(set(years or [timezone.localdate().year]))
        if any(year < 1900 or year > 2200 for year in years):
            raise CommandError(f"Years must be between 1900 and 2200, not {years}.")
        found = public_holidays(country, years, subdiv)
        where = f"{country}-{subdiv}" if subdiv else country
        self.stdout.write(
            f"{len(found)} public holidays of {where} in {', '.join(map(str, years))} for calendar {calendar.name}:"
        )
        added = 0
        with transaction.atomic():
            for day, name in found.items():
                holiday, created = Holiday.objects.get_or_create(calendar=calendar, date=day, defaults={"name": name})
                added += created
                self.stdout.write(f"  {'added' if created else 'kept '} {day.isoformat()} {holiday.name}")
        kept = len(found) - added
        self.stdout.write(self.style.SUCCESS(f"Added {added} holidays to {calendar.name} ({kept} were already there)."))

"""`manage.py generate_incidents --count 1000000`: synthetic history for benchmarks (incidents/synthetic.py)."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents import synthetic


class Command(BaseCommand):
    help = (
        "Add synthetic incidents (with services, SLA clocks and timelines) until there are COUNT of them. "
        "Safe to stop and run again: it carries on where it stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=10_000, help="Generated incidents wanted in all.")
        parser.add_argument("--days", type=int, default=730, help="Spread them over this many days up to now.")
        parser.add_argument("--batch", type=int, default=synthetic.BATCH, help="Incidents per transaction.")

    def handle(self, *args: Any, count: int, days: int, batch: int, **options: Any) -> None:
        if count < 0 or days < 1 or batch < 1:
            raise CommandError("--count must be 0 or more, --days and --batch 1 or more.")
        try:
            world = synthetic.setting(days)
        except ValueError as error:
            raise CommandError(str(error)) from None
        already = synthetic.generated_count()
        if already >= count:
            self.stdout.write(f"{already:,} generated incidents already; nothing to add.")
            return
        started = time.monotonic()
        done = already
        entries = 0
        for number, size in synthetic.batches(count, batch):
            entries += synthetic.write_batch(number, size, world)
            done += size
            elapsed = time.monotonic() - started
            rate = (done - already) / elapsed if elapsed else 0.0
            left = (count - done) / rate if rate else 0.0
            self.stdout.write(f"\r{done:,}/{count:,} incidents · {rate:,.0f}/s · {left:,.0f} s left", ending="")
            self.stdout.flush()
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {done - already:,} incidents and {entries:,} timeline entries "
                f"in {time.monotonic() - started:,.1f} s."
            )
        )

"""`manage.py refresh_report_facts`: rebuild the reports' facts from the incidents (reports/facts.py),
then the monthly roll-ups made of them (reports/rollups.py)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reports import facts, rollups


class Command(BaseCommand):
    help = "Rewrite every incident's report facts, then every ended month's roll-up. Safe to stop and run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rollups-only",
            action="store_true",
            help="Leave the facts; build the monthly roll-ups that are missing or out of date.",
        )

    def handle(self, *args: Any, rollups_only: bool = False, **options: Any) -> None:
        def progress(what: str) -> Any:
            def show(done: int, total: int) -> None:
                self.stdout.write(f"\r{done:,}/{total:,} {what}", ending="")
                self.stdout.flush()

            return show

        if not rollups_only:
            count = facts.rebuild(progress=progress("incident numbers"))
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"Facts rewritten for {count:,} incidents."))
        built = rollups.refresh(progress=progress("months"))
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Monthly roll-ups built: {built:,}."))

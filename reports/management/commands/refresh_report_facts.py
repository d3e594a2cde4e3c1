"""`manage.py refresh_report_facts`: rebuild the reports' facts from the incidents (reports/facts.py)."""

from typing import Any

from django.core.management.base import BaseCommand

from reports import facts


class Command(BaseCommand):
    help = "Rewrite every incident's report facts. Safe to stop and run again."

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(done: int, total: int) -> None:
            self.stdout.write(f"\r{done:,}/{total:,} incident numbers", ending="")
            self.stdout.flush()

        count = facts.rebuild(progress=progress)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Facts rewritten for {count:,} incidents."))

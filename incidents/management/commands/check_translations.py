"""Say what is left to translate: each catalogue's untranslated, fuzzy or mistyped entries, and
the strings the code marks that no catalogue has yet (`make messages` adds those).

`make messages` runs it after rewriting the catalogues, so whoever adds strings sees the list to
translate; tests/test_i18n.py asks the same questions and fails on the same answers.
"""

from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from itsm.translations import catalogue_messages, catalogue_paths, catalogue_problems, source_messages


class Command(BaseCommand):
    help = "List what the translation catalogues (locale/*/LC_MESSAGES/django.po) still lack; fail if anything."

    def handle(self, *args: Any, **options: Any) -> None:
        paths = catalogue_paths()
        if not paths:
            raise CommandError("No catalogue under LOCALE_PATHS; run `make messages`.")
        in_code = source_messages()
        failing = 0
        for path in paths:
            catalogue = polib.pofile(str(path))
            name = path.relative_to(settings.BASE_DIR) if path.is_relative_to(settings.BASE_DIR) else path
            problems = catalogue_problems(catalogue)
            problems += [
                f"[{context}] {msgid!r}: not in the catalogue (run `make messages`)"
                if context
                else f"{msgid!r}: not in the catalogue (run `make messages`)"
                for context, msgid in sorted(in_code - catalogue_messages(catalogue), key=lambda m: (m[1], m[0] or ""))
            ]
            total = len([entry for entry in catalogue if not entry.obsolete])
            if problems:
                failing += 1
                self.stdout.write(f"{name}: {len(problems)} to fix of {total} entries")
                for problem in problems:
                    self.stdout.write(f"  {problem}")
            else:
                self.stdout.write(f"{name}: {total} entries, all translated")
        if failing:
            raise CommandError(f"{failing} catalogue(s) incomplete; translate the entries listed above.")

"""Compile the translation catalogues (locale/*/LC_MESSAGES/*.po) into the .mo files Django reads.

Django's own `compilemessages` needs GNU gettext's msgfmt, a system package;
this needs only Python (polib), so `make run` works on a machine that has
nothing but Python. A catalogue is compiled only when its .po is newer than
its .mo, so running it every time costs nothing.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def compile_catalogues(*, force: bool = False) -> list[Path]:
    compiled = []
    for directory in settings.LOCALE_PATHS:
        for source in sorted(Path(directory).glob("*/LC_MESSAGES/*.po")):
            target = source.with_suffix(".mo")
            if not force and target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
                continue
            catalogue = polib.pofile(str(source))
            # Written beside it, then renamed over it: a process reading the catalogue meanwhile
            # (a running server, a parallel test worker compiling too) never sees half a file.
            handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            os.close(handle)
            try:
                catalogue.save_as_mofile(partial)
                os.chmod(partial, 0o644)
                os.replace(partial, target)
            finally:
                Path(partial).unlink(missing_ok=True)
            compiled.append(target)
    return compiled


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files, with Python alone (no GNU gettext)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="compile even when the .mo is up to date")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        for target in compile_catalogues(force=force):
            self.stdout.write(f"compiled {target}")

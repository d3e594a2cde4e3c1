"""The translation catalogues checked: complete, nothing fuzzy, the English's placeholders, in step with the code.

`manage.py check_translations` (which `make messages` runs) and tests/test_i18n.py use these, so a
string that reaches the code without its Indonesian is named before a user meets it in English.
Reading the catalogues and the code needs Python alone; only `make messages`, which rewrites the
catalogue, needs GNU gettext.
"""

import ast
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polib
from django.conf import settings
from django.utils.translation.template import templatize

# A message as gettext keys it: (context or None, msgid).
Message = tuple[str | None, str]

# The folders `make messages` passes to --ignore, and those that are never source.
IGNORED_FOLDERS = frozenset({".venv", "var", "bench", "tests", "staticfiles", "media", "locale", "node_modules"})
SOURCE_SUFFIXES = (".py", ".html", ".txt")

# %(name)s, %s, %02d, %% as Python's %-formatting reads them; {name} as str.format does; HTML tags.
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_BRACE = re.compile(r"\{\w*\}")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# A gettext call in templatize's output, and a Python string literal in it.
_CALL = re.compile(r"\b(gettext|pgettext|ngettext|npgettext)\(")
_STRING = re.compile(r"""[uU]?(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")

# How each gettext function takes its arguments: where the context is, then the msgid.
_KEYWORDS = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "gettext_noop": (None, 0),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}


def catalogue_paths(domain: str = "django") -> list[Path]:
    """The project's own catalogues (LOCALE_PATHS), one per language."""
    return sorted(path for folder in settings.LOCALE_PATHS for path in Path(folder).glob(f"*/LC_MESSAGES/{domain}.po"))


def placeholders(text: str, *, percent: bool) -> Counter[str]:
    """What a translation must keep: %-directives (for python-format entries), {names} and HTML tags."""
    found = Counter(_BRACE.findall(text)) + Counter(_TAG.findall(text))
    if percent:
        found += Counter(_PERCENT.findall(text))
    return found


def describe(entry: polib.POEntry) -> str:
    return f"[{entry.msgctxt}] {entry.msgid!r}" if entry.msgctxt else repr(entry.msgid)


def catalogue_problems(catalogue: polib.POFile) -> list[str]:
    """Everything that keeps the catalogue from being shown as is, one line each.

    1. The header names the language and its plural forms, and is not fuzzy.
    2. Each entry is translated (each plural form), and not fuzzy: msgmerge's guesses are fuzzy
       until someone checks them, and Django ignores them.
    3. Each translation has the placeholders and tags of its English, no more and no fewer.
    """
    problems = []
    nplurals = _nplurals(catalogue.metadata.get("Plural-Forms", ""))
    if not catalogue.metadata.get("Language"):
        problems.append("the header names no Language")
    if nplurals is None:
        problems.append("the header has no Plural-Forms with nplurals")
    if catalogue.metadata_is_fuzzy:
        problems.append("the header is marked fuzzy")
    for entry in catalogue:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"{describe(entry)}: fuzzy (check the translation, then remove the flag)")
        percent = "python-format" in entry.flags
        if entry.msgid_plural:
            english = entry.msgid_plural
            translations = [entry.msgstr_plural.get(index, "") for index in range(nplurals or 1)]
        else:
            english, translations = entry.msgid, [entry.msgstr]
        expected = placeholders(english, percent=percent)
        for translation in translations:
            if not translation:
                problems.append(f"{describe(entry)}: not translated")
                break
            found = placeholders(translation, percent=percent)
            if found != expected:
                problems.append(
                    f"{describe(entry)}: placeholders {sorted(found.elements())} in the translation, "
                    f"{sorted(expected.elements())} in the English"
                )
                break
    return problems


def _nplurals(plural_forms: str) -> int | None:
    match = re.search(r"nplurals\s*=\s*(\d+)", plural_forms)
    return int(match.group(1)) if match else None


def source_messages(root: Path | None = None) -> set[Message]:
    """The messages the code and the templates mark for translation, as `make messages` finds them.

    Read with Python alone (ast for modules, Django's own templatize for templates), so the test
    suite can tell that the catalogue has fallen behind the code without GNU gettext.
    """
    root = root or Path(settings.BASE_DIR)
    messages: set[Message] = set()
    for path in _source_files(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            messages.update(_python_messages(text))
        else:
            messages.update(_template_messages(text))
    return messages


def catalogue_messages(catalogue: polib.POFile) -> set[Message]:
    return {(entry.msgctxt, entry.msgid) for entry in catalogue if not entry.obsolete}


def _source_files(root: Path) -> Iterator[Path]:
    # os.walk, pruned as it goes: rglob would read all of .venv before leaving it out.
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name not in IGNORED_FOLDERS and not name.startswith("."))
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES):
                yield Path(folder) / name


def _python_messages(source: str) -> Iterator[Message]:
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in _KEYWORDS:
            continue
        context_at, msgid_at = _KEYWORDS[name]
        strings = [
            arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None for arg in node.args
        ]
        message = _message(strings, context_at, msgid_at)
        if message:
            yield message


def _template_messages(template: str) -> Iterator[Message]:
    """The gettext calls Django's templatize turns {% translate %} and {% blocktranslate %} into."""
    code = templatize(template)
    for call in _CALL.finditer(code):
        context_at, msgid_at = _KEYWORDS[call.group(1)]
        message = _message(list(_call_strings(code, call.end())), context_at, msgid_at)
        if message:
            yield message


def _call_strings(code: str, position: int) -> Iterator[str | None]:
    """The arguments of the call opened just before `position`: each string literal, None for the rest."""
    current: list[str] = []
    while position < len(code):
        if literal := _STRING.match(code, position):
            current.append(ast.literal_eval(literal.group()))
            position = literal.end()
            continue
        char = code[position]
        if char in ",)":
            yield "".join(current) if current else None
            current = []
            if char == ")":
                return
        position += 1


def _message(strings: list[str | None], context_at: int | None, msgid_at: int) -> Message | None:
    if len(strings) <= msgid_at or strings[msgid_at] is None:
        return None
    context = strings[context_at] if context_at is not None else None
    if context_at is not None and context is None:
        return None
    return (context, str(strings[msgid_at]))

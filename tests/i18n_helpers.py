"""Finding English left on a page shown in another language.

A page's visible text (text nodes, and the attributes people read or hear: title, aria-label,
placeholder, alt, the phone layout's data-label, the SLA countdown's words) is compared with the
catalogues Django reads for the language: a text that is the English of an entry translated
otherwise — or of one not translated yet — is a leftover. Text users typed is not an entry, so it
never counts, English or not; nor is text that is some entry's translation, nor text marked (`lang`)
as in another language than the page's.
"""

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import django
import polib
from django.apps import apps
from django.conf import settings

# The attributes whose words a user reads (a tooltip, a placeholder) or hears (aria-label, alt).
READ_ATTRIBUTES = frozenset({"title", "aria-label", "aria-description", "placeholder", "alt", "data-label"})
READ_ATTRIBUTE_PREFIXES = ("data-sla-",)  # the SLA countdown's words, handed to sla.js
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
# Marks and separators the templates put around words ("Prioritas: ", "■ Dilanggar", "(dijeda)").
_AROUND = " \t\n:·*()[]■▲—–-,;…"
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]|\{\w*\}")


@dataclass(frozen=True)
class Text:
    where: str  # "<label>", "<td data-label>"
    text: str


class _VisibleText(HTMLParser):
    """The texts people read on the page, less those marked (`lang`) as in another language than the page's.

    The page's language is its <html lang>, or `language` for a fragment without one. A text in
    another language on purpose — the language switcher names each language in itself, so that
    whoever cannot read the page still finds their own — carries its `lang`, as it should for
    screen readers too, and is not the page's English left over.
    """

    def __init__(self, language: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[Text] = []
        self.language = language
        self._open: list[tuple[str, str | None]] = []  # each open element, with the language it is in
        self._hidden = 0  # inside <script>/<style>/<template>

    def _current_language(self) -> str | None:
        return self._open[-1][1] if self._open else self.language

    def _foreign(self, language: str | None) -> bool:
        """In a language other than the page's (compared by their primary subtag: en-GB is English)."""
        if language is None or self.language is None:
            return False
        return _primary(language) != _primary(self.language)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html" and values.get("lang"):
            self.language = values["lang"]
        language = values.get("lang") or self._current_language()
        if not self._foreign(language):
            for name, value in values.items():
                if value.strip() and (name in READ_ATTRIBUTES or name.startswith(READ_ATTRIBUTE_PREFIXES)):
                    self.texts.append(Text(f"<{tag} {name}>", value))
            if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
                self.texts.append(Text("<input value>", values["value"]))
        if tag in VOID_ELEMENTS:
            return
        self._open.append((tag, language))
        self._hidden += tag in ("script", "style", "template")

    def handle_endtag(self, tag: str) -> None:
        if tag not in (name for name, _ in self._open):
            return
        while self._open:
            closed, _ = self._open.pop()
            self._hidden -= closed in ("script", "style", "template")
            if closed == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._hidden or not data.strip() or self._foreign(self._current_language()):
            return
        self.texts.append(Text(f"<{self._open[-1][0] if self._open else 'html'}>", data))


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def visible_texts(html: str, language: str | None = None) -> list[Text]:
    """The page's visible texts; `language` is the page's when it has no <html lang> (an htmx fragment)."""
    parser = _VisibleText(language)
    parser.feed(html)
    parser.close()
    return [Text(text.where, " ".join(text.text.split())) for text in parser.texts]


def markdown_texts(markdown: str) -> list[Text]:
    """A Markdown document's texts as a reader sees them: line by line, without the marks around the words.

    "- **Status:** Draf" gives "Status" and "Draf"; the parts of a timeline row or an action item
    (around " — " and ", ") come apart too, and a task list's box is not a word.
    """
    texts = []
    for line in markdown.splitlines():
        for part in re.split(r"\*\*| — |, ", re.sub(r"^\s*- \[[ xX]\] ", "", line)):
            words = " ".join(part.split()).strip(_AROUND + "#_★→")
            if words:
                texts.append(Text("<markdown>", words))
    return texts


def _catalogue_files(language: str) -> Iterator[Path]:
    """The catalogues Django reads for `language`, those that win first: the project's, the apps', Django's."""
    folders = [Path(folder) for folder in settings.LOCALE_PATHS]
    folders += [Path(config.path) / "locale" for config in apps.get_app_configs()]
    folders.append(Path(django.__file__).parent / "conf" / "locale")
    for folder in folders:
        po = folder / language / "LC_MESSAGES" / "django.po"
        if po.exists():
            yield po
        elif po.with_suffix(".mo").exists():
            yield po.with_suffix(".mo")


@dataclass(frozen=True)
class _Pattern:
    msgid: str
    english: re.Pattern[str]
    translation: re.Pattern[str] | None
    anchor: str  # the longest fixed part, to skip the regular expression for most texts

    def renders_english(self, text: str) -> bool:
        """The English filled in, and not a translation that happens to have the same shape."""
        if self.anchor not in text or not self.english.fullmatch(text):
            return False
        return self.translation is None or not self.translation.fullmatch(text)


class EnglishLeftovers:
    """The English, in one language's catalogues, of everything translated otherwise (or not yet)."""

    def __init__(self, language: str) -> None:
        self.language = language
        effective: dict[tuple[str | None, str], str] = {}
        for path in _catalogue_files(language):
            catalogue = polib.pofile(str(path)) if path.suffix == ".po" else polib.mofile(str(path))
            for entry in catalogue:
                if not entry.msgid or entry.obsolete:
                    continue
                translation = "" if "fuzzy" in entry.flags else entry.msgstr or entry.msgstr_plural.get(0, "")
                english = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
                for msgid in english:
                    key = (entry.msgctxt, " ".join(msgid.split()))
                    if not effective.get(key):  # the first catalogue that translates it wins, as in Django
                        effective[key] = " ".join(translation.split())
        unchanged = {msgid for (_, msgid), translation in effective.items() if translation == msgid}
        self.translations = frozenset(translation for translation in effective.values() if translation)
        self.english = {
            msgid: translation
            for (_, msgid), translation in effective.items()
            if msgid not in unchanged and msgid not in self.translations
        }
        self.patterns = [
            pattern
            for msgid, translation in self.english.items()
            if (pattern := _pattern(msgid, translation)) is not None
        ]

    def find(self, html: str) -> list[tuple[Text, str]]:
        """Each visible text that is English left untranslated, with the msgid it is the English of."""
        return self.find_in(visible_texts(html, self.language))

    def find_in(self, texts: Iterable[Text]) -> list[tuple[Text, str]]:
        found = []
        for text in texts:
            msgid = self._english_of(text.text)
            if msgid is not None:
                found.append((text, msgid))
        return found

    def _english_of(self, text: str) -> str | None:
        for candidate in _candidates(text):
            if candidate in self.english:
                return candidate
        return next((pattern.msgid for pattern in self.patterns if pattern.renders_english(text)), None)


def _candidates(text: str) -> Iterator[str]:
    yield text
    yield text.strip(_AROUND)
    for part in text.split(" · "):
        yield part.strip(_AROUND)


def _pattern(msgid: str, translation: str) -> _Pattern | None:
    """A message with placeholders as a regular expression over what it renders to, when it says enough.

    Only messages whose fixed words have three letters or more: "%(hours)d h" would match too much.
    """
    if not _PLACEHOLDER.search(msgid):
        return None  # plain text: compared as it is
    fixed = _PLACEHOLDER.split(msgid)
    if sum(char.isalpha() for part in fixed for char in part) < 3:
        return None
    return _Pattern(
        msgid=msgid,
        english=_regex(msgid),
        translation=_regex(translation) if translation else None,
        anchor=max(fixed, key=len).strip(),
    )


def _filled(placeholder: str) -> str:
    """What a placeholder renders to: a number for %d and its kin (so "%(num)d hour" is not "every hour"), else anything."""
    if placeholder == "%%":
        return "%"
    if placeholder[-1] in "diouxXeEfFgG":
        return r"[-+]?\d[\d.,]*"
    return ".+?"


@functools.lru_cache(maxsize=4096)
def _regex(message: str) -> re.Pattern[str]:
    parts = []
    position = 0
    for match in _PLACEHOLDER.finditer(message):
        parts.append(re.escape(message[position : match.start()]))
        parts.append(_filled(match.group()))
        position = match.end()
    parts.append(re.escape(message[position:]))
    return re.compile("".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=4)
def leftovers_for(language: str) -> EnglishLeftovers:
    return EnglishLeftovers(language)

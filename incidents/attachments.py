"""Which files may be attached, judged by name and by content, and how they are served back.

An upload must have an allowed extension (ATTACHMENT_TYPES) and content that
is what the extension says: the first bytes of an image, a PDF or a zip
archive, or UTF-8 text without NUL bytes for text, logs, CSV and JSON. The
content type stored and served is ours, from the extension, never the one the
browser sent; anything stored before this check is served as an opaque download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

SNIFF_BYTES = 8192
OPAQUE = "application/octet-stream"


def _starts(*signatures: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(signatures)


def _webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end inside a character; only an error before its last bytes counts.
        return error.start >= len(head) - 3 and len(head) == SNIFF_BYTES
    return True


@dataclass(frozen=True)
class FileType:
    content_type: str
    looks_right: Callable[[bytes], bool]


KNOWN_TYPES: dict[str, FileType] = {
    "png": FileType("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "gif": FileType("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "webp": FileType("image/webp", _webp),
    "pdf": FileType("application/pdf", _starts(b"%PDF-")),
    "zip": FileType("application/zip", _starts(b"PK\x03\x04", b"PK\x05\x06")),
    "txt": FileType("text/plain", _text),
    "log": FileType("text/plain", _text),
    "csv": FileType("text/csv", _text),
    "json": FileType("application/json", _text),
}
SERVED_TYPES = {file_type.content_type for file_type in KNOWN_TYPES.values()}


def allowed_extensions() -> list[str]:
    configured = [extension.lower().lstrip(".") for extension in settings.ATTACHMENT_TYPES]
    unknown = sorted(set(configured) - set(KNOWN_TYPES))
    if unknown:
        raise ImproperlyConfigured(
            f"ATTACHMENT_TYPES names types whose content cannot be checked: {', '.join(unknown)}; "
            f"choose from {', '.join(KNOWN_TYPES)}."
        )
    return configured


def checked_content_type(file: UploadedFile, name: str) -> str:
    """The content type of an allowed upload, or a ValidationError on `file` saying what is allowed."""
    allowed = allowed_extensions()
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in allowed:
        raise ValidationError(
            {"file": [_("Only these kinds of file may be attached: %(kinds)s.") % {"kinds": ", ".join(allowed)}]}
        )
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    file_type = KNOWN_TYPES[extension]
    if not file_type.looks_right(head):
        raise ValidationError(
            {"file": [_("The content of this file is not a .%(extension)s file.") % {"extension": extension}]}
        )
    return file_type.content_type


def served_content_type(stored: str) -> str:
    """What a download is labelled: one of our own types, text in UTF-8, anything else opaque."""
    if stored not in SERVED_TYPES:
        return OPAQUE
    return f"{stored}; charset=utf-8" if stored.startswith("text/") else stored

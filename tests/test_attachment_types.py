"""Attachments: only allowed kinds of file, judged by content as well as name; downloads that a
browser can neither render inline nor sniff into something runnable."""

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from incidents.models import Attachment, Incident

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
ZIP = b"PK\x05\x06" + b"\x00" * 18
HTML = b"<html><script>alert(document.cookie)</script></html>"

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(api: Any, user: Any, incident: Any, name: str, content: bytes, claimed: str = "text/plain") -> Any:
    path = f"/api/v1/incidents/{incident.number}/attachments/"
    return api(user).post(path, {"file": SimpleUploadedFile(name, content, claimed)}, format="multipart")


def _nothing_stored(incident: Any, media: Path) -> None:
    assert Attachment.objects.count() == 0
    assert not incident.timeline.filter(kind="attachment").exists()
    assert not [path for path in media.rglob("*") if path.is_file()]


@pytest.mark.parametrize(
    ("name", "content", "stored_type"),
    [
        ("screen.png", PNG, "image/png"),
        ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/jpeg"),
        ("report.pdf", PDF, "application/pdf"),
        ("logs.zip", ZIP, "application/zip"),
        ("app.log", "ERROR gagal: koneksi ditolak ✗\n".encode(), "text/plain"),
        ("rows.csv", b"a,b\n1,2\n", "text/csv"),
        ("event.json", b'{"ok": true}', "application/json"),
    ],
)
def test_allowed_kinds_are_kept_with_our_own_content_type(
    make_incident: Any, agent: Any, api: Any, media: Path, name: str, content: bytes, stored_type: str
) -> None:
    incident = make_incident()
    # The browser's claim is not believed either way.
    response = _upload(api, agent, incident, name, content, claimed="text/html")
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == stored_type
    assert Attachment.objects.get().content_type == stored_type


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", HTML),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("tool.exe", b"MZ\x90\x00"),
        ("no-extension", b"plain words"),
        ("script.js", b"alert(1)"),
    ],
)
def test_other_kinds_are_refused_naming_the_allowed_ones(
    make_incident: Any, agent: Any, api: Any, media: Path, name: str, content: bytes
) -> None:
    incident = make_incident()
    response = _upload(api, agent, incident, name, content)
    assert response.status_code == 400
    [message] = response.json()["file"]
    assert "png, jpg, jpeg, gif, webp, pdf, txt, log, csv, json, zip" in message
    _nothing_stored(incident, media)


@pytest.mark.parametrize(
    ("name", "content"),
    [("screen.png", HTML), ("report.pdf", b"not a pdf"), ("app.log", b"\x00\x01binary"), ("a.txt", b"\xff\xfe\xfd")],
)
def test_content_that_is_not_what_the_name_says_is_refused(
    make_incident: Any, agent: Any, api: Any, media: Path, name: str, content: bytes
) -> None:
    incident = make_incident()
    response = _upload(api, agent, incident, name, content)
    assert response.status_code == 400
    assert response.json()["file"] == [f"The content of this file is not a .{name.rpartition('.')[2]} file."]
    _nothing_stored(incident, media)


def test_the_allowed_kinds_come_from_settings(
    make_incident: Any, agent: Any, api: Any, media: Path, settings: Any
) -> None:
    settings.ATTACHMENT_TYPES = ["txt", "log"]
    incident = make_incident()
    refused = _upload(api, agent, incident, "screen.png", PNG)
    assert refused.status_code == 400
    assert refused.json()["file"] == ["Only these kinds of file may be attached: txt, log."]
    assert _upload(api, agent, incident, "app.log", b"ok\n").status_code == 201


def test_the_size_limit_still_holds(make_incident: Any, agent: Any, api: Any, media: Path, settings: Any) -> None:
    settings.ATTACHMENT_MAX_BYTES = 64
    incident = make_incident()
    response = _upload(api, agent, incident, "app.log", b"x" * 65)
    assert response.status_code == 400
    assert response.json()["file"] == ["The file is larger than the limit of 64 bytes."]
    _nothing_stored(incident, media)


def test_a_text_download_is_an_unsniffable_attachment(make_incident: Any, agent: Any, api: Any, media: Path) -> None:
    incident = make_incident()
    # Text that a browser sniffing content would take for HTML.
    url = _upload(api, agent, incident, "app.log", HTML).json()["url"]
    download = api(agent).get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="app.log"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(download.streaming_content) == HTML


def test_a_file_stored_before_the_check_is_served_opaque(make_incident: Any, agent: Any, api: Any, media: Path) -> None:
    incident = make_incident()
    url = _upload(api, agent, incident, "app.log", b"ok\n").json()["url"]
    # As an upload from before the type check would be: the browser's own claim, kept.
    Attachment.objects.update(content_type="text/html", name="page.html")
    download = api(agent).get(url)
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="page.html"'


def test_the_incident_page_form_refuses_a_wrong_kind(make_incident: Any, agent: Any, media: Path) -> None:
    incident = make_incident()
    client = Client()
    client.force_login(agent)
    upload = SimpleUploadedFile("page.html", HTML, "text/html")
    response = client.post(f"/incidents/{incident.number}/attachments/", {"attachment-file": upload})
    assert response.status_code == 400
    assert "Only these kinds of file may be attached" in response.content.decode()
    _nothing_stored(incident, media)


def test_the_report_form_refuses_a_wrong_kind_and_reports_nothing(reporter: Any, media: Path) -> None:
    client = Client()
    client.force_login(reporter)
    upload = SimpleUploadedFile("page.html", HTML, "text/html")
    response = client.post(
        "/incidents/new/",
        {"title": "Crash", "category": "other", "impact": "low", "urgency": "low", "attachment": upload},
    )
    assert response.status_code == 200
    assert "Only these kinds of file may be attached" in response.content.decode()
    assert not Attachment.objects.exists()
    assert not Incident.objects.exists()

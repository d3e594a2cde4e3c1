"""Security headers on pages, API answers and the back office; HTTPS redirect and HSTS only over TLS.

The policy itself is in itsm/settings.py ("# --- Security"); tests/test_browser_csp.py shows the pages
still work under it in Chromium.
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

STRICT_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def policy(response: Any) -> dict[str, str]:
    pairs = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {pair[0]: pair[1] for pair in pairs}


def assert_hardened(response: Any) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert STRICT_DIRECTIVES.items() <= policy(response).items()
    # Plain HTTP: a browser ignores HSTS there, and we do not send it.
    assert "Strict-Transport-Security" not in response


def test_a_page_is_sent_with_every_header(agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    response = client.get("/")
    assert response.status_code == 200
    assert_hardened(response)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_the_login_page_is_sent_with_every_header() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert_hardened(response)


def test_an_api_answer_is_sent_with_every_header(agent: Any, api: Callable[[Any], Any]) -> None:
    response = api(agent).get("/api/v1/incidents/")
    assert response.status_code == 200
    assert_hardened(response)


def test_an_api_refusal_is_sent_with_every_header() -> None:
    response = Client().get("/api/v1/incidents/")
    assert response.status_code in (401, 403)
    assert_hardened(response)


def test_the_back_office_is_sent_with_every_header(root_client: Client) -> None:
    response = root_client.get("/admin/incidents/incident/")
    assert response.status_code == 200
    assert_hardened(response)


def test_the_api_docs_load_swagger_from_this_server_and_only_they_allow_inline_styles(agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["script-src"] == "'self'"
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    # Its start-up code is a script file of its own, not inline.
    assert '<script src="/api/docs/?script="></script>' in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def test_hsts_only_over_tls(settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    secure = Client().get("/accounts/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/")


def test_plain_http_is_redirected_to_https_except_the_health_check(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    response = client.get("/accounts/login/?next=/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/?next=/"
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/accounts/login/", secure=True).status_code == 200


def test_the_proxys_https_header_is_trusted_only_when_configured(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    forwarded = {"X-Forwarded-Proto": "https"}
    # Not configured: a client's own header claims nothing.
    assert Client().get("/accounts/login/", headers=forwarded).status_code == 301
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_proxy = Client().get("/accounts/login/", headers=forwarded)
    assert behind_proxy.status_code == 200
    assert behind_proxy["Strict-Transport-Security"] == "max-age=3600"

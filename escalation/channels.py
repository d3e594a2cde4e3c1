"""Sending one notification through its channel: email, signed JSON webhook, Slack-compatible webhook.

Each sender either returns (the receiver took the message) or raises
`DeliveryError(message, retryable=...)`. Messages of `DeliveryError` end up in
`Notification.last_error` and the timeline, so they never carry a secret:
neither the signing secret nor the webhook URL (chat webhook URLs are
credentials in themselves).

Generic webhook (channel "webhook")
-----------------------------------
``POST <address>`` with the JSON body (a stable schema; fields are only ever added)::

    {
      "event": "incident.page" | "incident.update",
      "idempotency_key": "<the notification's idempotency key>",
      "sent_at": "2025-01-31T12:00:00.123456+00:00",
      "incident": {
        "number": "INC-42",
        "title": "Payments failing for all users",
        "priority": "P1",
        "state": "new",
        "url": "https://itsm.example.com/admin/incidents/incident/42/change/"
      },
      "notification": {"id": 7, "level": 1},
      "ack_url": "https://itsm.example.com/page/ack/<token>/",
      "message": {"subject": "...", "body": "..."}      (updates only: what they say)
    }

and the headers::

    Content-Type: application/json
    User-Agent: itsm/1.0
    Idempotency-Key: <idempotency_key>      (the same on every retry; drop repeats)
    X-ITSM-Timestamp: <unix seconds>
    X-ITSM-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" with the contact method's secret>

A receiver checks the signature over the raw body bytes and refuses old
timestamps (see `verify`). ``level`` is null for messages outside an
escalation level.

Outcomes (webhook and Slack alike): 2xx is delivered; 408, 429, 5xx, timeouts
and connection errors are retried; any other status (redirects included, they
are not followed) is a permanent failure.
"""

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, get_connection
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.ack_links import ack_url
from escalation.models import Channel, Notification, NotificationKind
from incidents.models import Incident

USER_AGENT = "itsm/1.0"
HTTP_TIMEOUT_SECONDS = 5
# Email has no timeout unless EMAIL_TIMEOUT says so; a hung SMTP server must not hold a worker.
DEFAULT_EMAIL_TIMEOUT_SECONDS = 10
SIGNATURE_TOLERANCE_SECONDS = 300
RETRYABLE_STATUS = frozenset({408, 429})
# Enough of an answer's body to see why, without keeping whatever a receiver sends.
ERROR_BODY_BYTES = 200
SLACK_TEXT_LIMIT = 2900


class DeliveryError(Exception):
    """The message was not delivered; `retryable` says whether trying later may help.

    `status` and `excerpt` are the receiver's HTTP status and the start of its
    answer, when it answered at all.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None, excerpt: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.excerpt = excerpt


@dataclass(frozen=True)
class HttpAnswer:
    """A receiver's 2xx: its status and the start of its body, whitespace folded."""

    status: int
    excerpt: str


def site_url() -> str:
    return str(getattr(settings, "SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


def incident_url(incident: Incident) -> str:
    return site_url() + reverse("admin:incidents_incident_change", args=[incident.pk])


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The `X-ITSM-Signature` value: HMAC-SHA256 of `{timestamp}.{body}`, as `sha256=<hex>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    *,
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether `signature` signs `body` at `timestamp` with `secret`, within `tolerance` seconds of now.

    The tolerance bounds replays: a captured request stops verifying once
    it is that old (receivers drop repeats within it by the Idempotency-Key).
    """
    text = str(timestamp).strip()
    if not text.isdigit():
        return False
    moment = int(text)
    current = time.time() if now is None else now
    if abs(current - moment) > tolerance:
        return False
    return hmac.compare_digest(sign(secret=secret, timestamp=moment, body=body), signature)


def signature_headers(*, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """`X-ITSM-Timestamp` and `X-ITSM-Signature` for `body` sent at `timestamp` (unix seconds)."""
    return {
        "X-ITSM-Timestamp": str(timestamp),
        "X-ITSM-Signature": sign(secret=secret, timestamp=timestamp, body=body),
    }


def webhook_payload(*, notification: Notification, sent_at: str) -> dict[str, Any]:
    incident = notification.incident
    page = notification.kind == NotificationKind.PAGE
    payload = {
        "event": "incident.page" if page else "incident.update",
        "idempotency_key": notification.idempotency_key,
        "sent_at": sent_at,
        "incident": {
            "number": incident.number,
            "title": incident.title,
            "priority": incident.priority,
            "state": incident.state,
            "url": incident_url(incident),
        },
        "notification": {"id": notification.pk, "level": notification.level},
        "ack_url": ack_url(notification=notification),
    }
    if not page:
        # A page says "respond"; an update has something to tell.
        payload["message"] = {"subject": notification.subject, "body": notification.body}
    return payload


def _excerpt(response: requests.Response) -> str:
    try:
        head = response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
    except Exception:
        # The status has been read already; a body that breaks off changes nothing about it.
        return ""
    return " ".join(head.decode("utf-8", "replace").split())


def post(*, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
    """POST `body` to `url` once, without following redirects; the 2xx answer, or DeliveryError.

    408, 429, 5xx, timeouts and connection errors are retryable; any other
    status is not. The error's message names neither the URL nor the headers.
    """
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(_("The webhook address is not an http(s) URL."), retryable=False)
    try:
        # Streamed, so that only the start of an answer's body is ever read.
        with requests.post(
            url, data=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
            excerpt = _excerpt(response)
    except requests.Timeout:
        raise DeliveryError(
            _("The receiver did not answer within %(seconds)d s.") % {"seconds": HTTP_TIMEOUT_SECONDS}, retryable=True
        ) from None
    except requests.ConnectionError as error:
        # The exception's text names the URL; keep only its kind.
        raise DeliveryError(
            _("Could not connect to the receiver (%(error)s).") % {"error": type(error).__name__}, retryable=True
        ) from None
    except requests.RequestException as error:
        raise DeliveryError(
            _("The request could not be made (%(error)s).") % {"error": type(error).__name__}, retryable=False
        ) from None
    if 200 <= status < 300:
        return HttpAnswer(status=status, excerpt=excerpt)
    message = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    raise DeliveryError(message, retryable=status in RETRYABLE_STATUS or status >= 500, status=status, excerpt=excerpt)


def json_bytes(payload: dict[str, Any]) -> bytes:
    """The compact UTF-8 JSON that webhooks send (and sign)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def send_webhook(*, notification: Notification) -> None:
    contact_method = notification.contact_method
    if contact_method is None or not contact_method.secret:
        raise DeliveryError(_("The webhook has no signing secret (its contact method is gone)."), retryable=False)
    now = timezone.now()
    timestamp = int(now.timestamp())
    body = json_bytes(webhook_payload(notification=notification, sent_at=now.isoformat()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": notification.idempotency_key,
        **signature_headers(secret=contact_method.secret, body=body, timestamp=timestamp),
    }
    post(url=notification.address, body=body, headers=headers)


def _slack_escape(text: str) -> str:
    # The three characters Slack's mrkdwn reserves for links and mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(*, notification: Notification) -> dict[str, Any]:
    incident = notification.incident
    link = incident_url(incident)
    ack = ack_url(notification=notification)
    subject = _slack_escape(notification.subject)
    body = _slack_escape(notification.body)[:SLACK_TEXT_LIMIT]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*<{link}|{incident.number}>* {subject}"}}
    ]
    if body.strip():
        # Slack refuses a section with empty text.
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    # The words outside the f-strings, where xgettext (`make messages`) finds them.
    acknowledge, open_incident = _("Acknowledge"), _("Open the incident")
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"<{ack}|{acknowledge}> · <{link}|{open_incident}>"}],
        }
    )
    return {
        # The plain text is what notifications and clients without blocks show.
        "text": f"{subject}\n{link}\n{acknowledge}: {ack}",
        "blocks": blocks,
    }


def send_slack(*, notification: Notification) -> None:
    body = json_bytes(slack_payload(notification=notification))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": notification.idempotency_key,
    }
    post(url=notification.address, body=body, headers=headers)


def send_email(*, notification: Notification) -> None:
    incident = notification.incident
    acknowledge, incident_label = _("Acknowledge"), _("Incident")
    body = (
        f"{notification.body.rstrip()}\n\n"
        f"{acknowledge}: {ack_url(notification=notification)}\n"
        f"{incident_label}: {incident_url(incident)}\n"
    )
    message = EmailMessage(
        # A header cannot span lines; subjects come from titles people typed.
        subject=" ".join(notification.subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
        headers={"X-ITSM-Incident": incident.number, "X-ITSM-Idempotency-Key": notification.idempotency_key},
    )
    send_email_message(message)


def send_email_message(message: EmailMessage) -> None:
    """Send one email through Django's mail within EMAIL_TIMEOUT; DeliveryError when it did not go out."""
    message.connection = get_connection(
        timeout=getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_EMAIL_TIMEOUT_SECONDS
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(_("The mail server refused the address."), retryable=False) from None
    except smtplib.SMTPResponseException as error:
        # 4xx is the server's "try again later", 5xx its "never".
        raise DeliveryError(
            _("The mail server answered %(code)s.") % {"code": error.smtp_code}, retryable=error.smtp_code < 500
        ) from None
    except (BadHeaderError, ValueError) as error:
        raise DeliveryError(
            _("The message could not be built (%(error)s).") % {"error": type(error).__name__}, retryable=False
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(
            _("Could not reach the mail server (%(error)s).") % {"error": type(error).__name__}, retryable=True
        ) from None


SENDERS = {
    Channel.EMAIL: send_email,
    Channel.WEBHOOK: send_webhook,
    Channel.SLACK: send_slack,
}


def send_notification(*, notification: Notification) -> None:
    """Send `notification` once through its channel; raise DeliveryError when it did not go out."""
    sender = SENDERS.get(Channel(notification.channel)) if notification.channel in Channel.values else None
    if sender is None:
        raise DeliveryError(_("Unknown channel %(channel)r.") % {"channel": notification.channel}, retryable=False)
    sender(notification=notification)

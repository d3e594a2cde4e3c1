"""Secrets that travel in URL paths, kept out of the logs.

A calendar feed, a one-click acknowledgement link and an alert integration's
URL each carry their credential in the path itself, so every line that names
the path (Django's "Bad Request: /page/ack/…", the access log) would
hand it to whoever reads the logs. Both log through `redact`.
"""

import logging
import re

CAPABILITY_PATH = re.compile(
    r"(?P<prefix>/page/ack/|/oncall/(?:schedules|users)/|/api/v1/integrations/(?:alertmanager|generic)/)"
    r"(?P<secret>[^/?#\s\"'<>]+?)(?P<suffix>\.ics)?(?=[/?#\s\"'<>]|$)"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return CAPABILITY_PATH.sub(rf"\g<prefix>{REDACTED}\g<suffix>", text)


class RedactCapabilities(logging.Filter):
    """A handler's filter: the message and the request Django attaches, with their secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        request = getattr(record, "request", None)
        if request is not None:
            # The JSON formatter writes extra attributes with str(); Django's request repr names the path.
            record.request = redact(repr(request))
        return True

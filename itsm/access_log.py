"""gunicorn's access log with the secrets in URL paths redacted (gunicorn.conf.py chooses it)."""

from typing import Any

from gunicorn.glogging import Logger

from itsm.redaction import redact

# The request line, the path and the referrer (a page opened from an acknowledgement link refers to it).
URL_ATOMS = ("r", "U", "f", "{referer}i")


class AccessLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in URL_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        return atoms

"""Errors the domain functions raise; each door turns them into its own answer.

Bad input is Django's `ValidationError` (field → messages) and a missing
right is Django's `PermissionDenied`; these two are for the lifecycle.
"""


class TransitionNotAllowed(Exception):  # noqa: N818 — named for what the caller sees
    """The transition cannot run from the incident's current state (HTTP 409)."""

    def __init__(self, message: str, *, state: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.allowed = allowed


class IncidentConflict(Exception):  # noqa: N818
    """Someone else changed the incident first (HTTP 409); reload and try again."""

    def __init__(self, message: str, *, state: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.state = state
        self.allowed = allowed


class IncidentFinished(IncidentConflict):
    """The incident is closed or cancelled, so its response records no longer change (HTTP 409)."""

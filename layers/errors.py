"""The small family of domain errors. The API maps each class to one HTTP status in one place
(``api/errors.py``); the CLI prints the message and exits non-zero."""

from __future__ import annotations


class OnemapError(Exception):
    """Base of every error onemap raises on purpose. ``str(error)`` is safe to show a user."""


class InputError(OnemapError):
    """The caller's input is wrong (a file, a parameter, a value): fix it and retry."""


class UnknownLayerError(InputError):
    """A layer name that is not in the catalogue."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown layer {name!r}; known layers: {', '.join(known)}")
        self.name = name


class NotFoundError(OnemapError):
    """A feature or resource that does not exist."""


class StoreError(OnemapError):
    """The store cannot be opened or written (missing server, locked file, failed migration).

    The message is for the operator (CLI, server log) and may name the database's address;
    ``public`` is what an HTTP client is told instead, when the message holds such details."""

    def __init__(self, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class AuthError(OnemapError):
    """No valid credentials: log in (pages) or send ``Authorization: Bearer <token>`` (API)."""


class ForbiddenError(OnemapError):
    """Valid credentials whose role does not allow this."""


class TooManyAttemptsError(OnemapError):
    """Too many failed logins or token lookups from one client: wait and retry."""


class GoneError(OnemapError):
    """A resource that existed and is no longer available (an expired or revoked share link)."""


class UnsupportedMediaTypeError(InputError):
    """A body in a format the route does not read (it says which to send)."""


class PreconditionFailed(OnemapError):
    """A conditional write (``If-Match``) whose version is no longer the stored one."""

"""One set of errors for every service.

Services raise these; the API maps them to a 4xx JSON body and the CLI to a message and a
non-zero exit code. Messages follow scikit-learn's style: they name the parameter, say what it
must be and show what was given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class AicommonsError(Exception):
    """Base class: `code` is the machine-readable name, `status` the HTTP status. `field` names
    the request field at fault where one is (a spec's field name): the API lists it with the
    error, and the console marks it on the form, instead of either parsing the message."""

    code = "error"
    status = 400
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(AicommonsError):
    code = "invalid"
    status = 422
    exit_code = 2


class NotFound(AicommonsError):
    """Also raised for things that exist but the actor may not see: existence never leaks."""

    code = "not_found"
    status = 404
    exit_code = 3


class Forbidden(AicommonsError):
    code = "forbidden"
    status = 403
    exit_code = 4


class Conflict(AicommonsError):
    code = "conflict"
    status = 409
    exit_code = 5


class Unauthenticated(AicommonsError):
    code = "unauthenticated"
    status = 401
    exit_code = 6


class RateLimited(AicommonsError):
    """Over a quota; `retry_after` says in how many seconds to try again."""

    code = "rate_limited"
    status = 429
    exit_code = 8

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(AicommonsError):
    """Temporarily unable to serve (overloaded, starting); worth retrying after `retry_after` seconds."""

    code = "unavailable"
    status = 503
    exit_code = 9

    def __init__(self, message: str, *, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class IntegrityError(AicommonsError):
    """Stored bytes or records no longer match their recorded digest."""

    code = "integrity_error"
    status = 500
    exit_code = 7


def invalid_parameter(name: str, owner: str, expected: str, got: object) -> Invalid:
    return Invalid(f"The {name!r} parameter of {owner} must be {expected}; got {got!r} instead.", field=name)


@contextmanager
def refusals_name(field: str) -> Iterator[None]:
    """Refusals raised in the block that name no field name `field`: a service wraps the step
    that checks one field of a request (a registry lookup, a scenario's own checks) with it."""
    try:
        yield
    except AicommonsError as refusal:
        if refusal.field is None:
            refusal.field = field
        raise


def not_found(kind: str, ident: object) -> NotFound:
    return NotFound(f"No {kind} with id {ident!r} exists or it is not visible to you.")

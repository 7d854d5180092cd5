"""DRF's side of a refused request: the exception the authentication class and HasScopes
raise, and the exception handler that answers it with exactly the guards' headers.

>>> REST_FRAMEWORK = {
...     "DEFAULT_AUTHENTICATION_CLASSES": ["tokenkeep.django.TokenAuthentication"],
...     "EXCEPTION_HANDLER": "tokenkeep.django.exception_handler",
... }

DRF's own handler already gives the status, the JSON body, ``WWW-Authenticate`` and
``Retry-After``; this one adds ``Cache-Control: no-store`` (and is DRF's handler for every
other exception). A site with its own handler calls this one first, or checks
``isinstance(exc, BearerFailed)`` and adds ``exc.failure.headers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.response import Response

from ..web.bearer import BearerError

__all__ = ["BearerFailed", "exception_handler"]


class BearerFailed(APIException):
    """A request refused by the RFC 6750 rule; ``failure`` is the framework-free answer
    (:class:`~tokenkeep.web.bearer.BearerError`). Not an ``AuthenticationFailed``, so that
    DRF keeps the challenge it carries instead of putting its own in place."""

    def __init__(self, failure: BearerError) -> None:
        super().__init__(detail=failure.body)
        self.failure = failure
        self.status_code = failure.status_code
        headers = failure.headers
        self.auth_header = headers.get("WWW-Authenticate")
        self.wait = int(headers["Retry-After"]) if "Retry-After" in headers else None


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler, plus the guards' exact headers for :class:`BearerFailed`."""
    # Imported here: rest_framework.views loads the authentication classes, which import this.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, BearerFailed):
        for name, value in exc.failure.headers.items():
            response[name] = value
    return response

"""The Access Token tab inside the Django site's own layout (issue 22).

By default the tab extends the site's ``base.html`` (``TOKENKEEP["BASE_TEMPLATE"]``) when the
site's Django template engine finds one: tokenkeep's Jinja2 page renders only its body, which
fills the site template's ``content`` block (``TOKENKEEP["BASE_BLOCK"]``), so the site's own
header (sign-out, navigation) stays. Without one (or with ``"BASE_TEMPLATE": None``), or when
``TOKENKEEP["TEMPLATE_DIRS"]`` holds a Jinja2 ``base.html``, tokenkeep's own layout is used.
"""

from __future__ import annotations

import os

from django.http import HttpRequest
from django.template import TemplateDoesNotExist, engines
from django.template.backends.django import DjangoTemplates
from django.utils.safestring import mark_safe

from .conf import tokenkeep_settings

__all__ = ["EMBEDDED", "site_base", "wrap"]

EMBEDDED = "_embedded.html"  # tokenkeep's Jinja2 layout of the body alone


def _engine() -> DjangoTemplates | None:
    return next((e for e in engines.all() if isinstance(e, DjangoTemplates)), None)


def site_base() -> str | None:
    """The site template the tab extends, or None for tokenkeep's own layout."""
    settings = tokenkeep_settings()
    if not settings.base_template:
        return None
    if any(os.path.isfile(os.path.join(d, "base.html")) for d in settings.template_dirs):
        return None  # a Jinja2 base.html of the deployment's own: it is the layout
    engine = _engine()
    if engine is None:
        return None
    try:
        engine.get_template(settings.base_template)
    except TemplateDoesNotExist:
        return None
    return settings.base_template


def wrap(request: HttpRequest, base: str, body: str) -> str:
    """``body`` (tokenkeep's page, already escaped by Jinja2) in the ``base`` site template."""
    engine = _engine()
    assert engine is not None  # site_base() found it
    block = tokenkeep_settings().base_block  # an identifier (checked by conf.py)
    template = engine.from_string(
        "{% extends tokenkeep_base %}{% block " + block + " %}{{ tokenkeep_body }}{% endblock %}"
    )
    return template.render({"tokenkeep_base": base, "tokenkeep_body": mark_safe(body)}, request)

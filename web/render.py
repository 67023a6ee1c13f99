"""Rendering a page: one Jinja environment over ``templates/web/``, autoescaped, and the
headers every page carries."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from infra.mail.render import templates_root

#: Only the package's own files: no inline script or style, no CDN, no framing; a page's own
#: script may fetch from this site alone (the key list following a new key).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Links carry tokens in their paths: no page tells another site where it came from.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def web_root() -> Path:
    """``templates/web/``: the pages' templates, and ``static/`` (the stylesheet, the icon)."""
    return templates_root() / "web"


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """A count and its noun in the number it takes: ``1 call``, ``2 calls``, ``1,000 input
    tokens``. The plural is the noun with an ``s`` unless given. Pages use it as the filter
    ``{{ n|counted("call") }}``."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(web_root()),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["counted"] = counted
    return env


def page_headers(request: Request) -> dict[str, str]:
    """The headers above, and on an https site HSTS: browsers come back over https only."""
    headers = dict(PAGE_HEADERS)
    if request.app.state.services.settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` with ``context``, plus what every page needs: the signed-in person (if
    any) and the form token of this browser (``web.session``)."""
    page = getattr(request.state, "page", None)  # None: refused before the visitor was found
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            me=page.account if page else None,
            csrf_token=page.csrf_token if page else "",
            **context,
        )
    )
    headers = page_headers(request)
    if "retry_after" in context:  # a refusal for too many attempts says when to try again
        headers["Retry-After"] = str(context["retry_after"])
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(location: str) -> RedirectResponse:
    """After a form succeeds, the browser is sent on with a GET (303: no form sent twice)."""
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)

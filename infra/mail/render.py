"""Turn an email template and its context into a subject, a text body and an HTML body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from infra.mail.errors import UnknownTemplate

#: Every email directory holds these three templates.
SUBJECT = "subject.txt"
TEXT_BODY = "body.txt"
HTML_BODY = "body.html"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """What a template produced, ready to be wrapped in a MIME message."""

    subject: str
    text: str
    html: str


def templates_root() -> Path:
    """Find `templates/`: beside the packages in a checkout, inside `teamkeys/` in a wheel."""
    base = Path(__file__).resolve().parents[2]
    checkout = base / "templates"
    if checkout.is_dir():
        return checkout
    return base / "teamkeys" / "templates"


class EmailRenderer:
    """Renders `templates/email/<name>/` so every email shares one layout and footer."""

    def __init__(self, templates_dir: Path) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir / "email"),
            # Escape HTML bodies only; text parts and subjects keep `<` and `&` as written.
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm"),
                disabled_extensions=("txt",),
                default_for_string=False,
                default=False,
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )

    def render(self, template: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Render one email; a missing context variable raises instead of sending a gap."""
        if not template or template.startswith(("_", ".")) or "/" in template or "\\" in template:
            raise UnknownTemplate(f"no email template named {template!r}")
        try:
            subject = self._env.get_template(f"{template}/{SUBJECT}").render(context)
            text = self._env.get_template(f"{template}/{TEXT_BODY}").render(context)
            html = self._env.get_template(f"{template}/{HTML_BODY}").render(context)
        except jinja2.TemplateNotFound as exc:
            raise UnknownTemplate(f"no email template named {template!r} ({exc.name})") from exc
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)

"""The form controls every page builds with ``templates/web/_form.html``: a visible label, and
a refused field tied to its message for assistive technology."""

from __future__ import annotations

import re

from web.render import environment


def control(fields: dict[str, str], hint: str | None = None) -> str:
    template = environment().from_string(
        '{% from "_form.html" import field %}'
        '{{ field("email", "Email", "email", "ada@example.com", fields, hint=hint) }}'
    )
    return template.render(fields=fields, hint=hint)


def test_a_refused_field_is_invalid_and_described_by_its_message() -> None:
    html = control({"email": "Not an email address."})
    [tag] = re.findall(r"<input[^>]*>", html)
    assert ' required aria-invalid="true" aria-describedby="email-error"' in tag
    assert '<p class="field-error" id="email-error">Not an email address.</p>' in html
    assert '<label for="email">Email</label>' in html


def test_a_field_with_a_hint_is_described_by_it() -> None:
    [tag] = re.findall(r"<input[^>]*>", control({}, hint="We never share it."))
    assert 'aria-describedby="email-hint "' in tag and "aria-invalid" not in tag

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


def test_a_button_form_carries_the_token_its_hidden_values_and_its_spoken_name() -> None:
    template = environment().from_string(
        '{% from "_form.html" import button_form with context %}'
        '{{ button_form("/support/emails/eml_1/resend", "Re-send",'
        ' "the role changed email to <a@example.com>", class="secondary",'
        ' values={"status": "dead"}) }}'
    )
    html = template.render(csrf_token="tok123")
    assert '<form method="post" action="/support/emails/eml_1/resend" class="inline">' in html
    assert '<input type="hidden" name="csrf_token" value="tok123">' in html
    assert '<input type="hidden" name="status" value="dead">' in html
    [button] = re.findall(r"<button[^>]*>.*?</button>", html)
    assert button == (
        '<button type="submit" class="secondary">Re-send<span class="visually-hidden"> the role '
        "changed email to &lt;a@example.com&gt;</span></button>"
    )

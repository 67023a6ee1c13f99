"""The team console: billing (owners only; a user gets the 404 page, as the API's 403).

``/team/billing`` lists the team's invoices, newest month first, and the payment method on
file with a form to replace it; each invoice has its page with its lines and its PDF (the very
document ``GET /v1/teams/{id}/invoices/{id}/pdf`` serves). Every page and form calls the
domain functions the API's routes call (``api/routes/invoices.py``,
``api/routes/production.py``), so the permission check and every refusal are the API's: a card
number in any field is refused by ``domain.payments`` with its message, beside the field."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import Request, Response

from api.deps import ServicesDep, UowDep
from api.invoice_pdf import invoice_download
from api.schemas import PaymentMethodRequest
from domain import billing, payments, teams
from domain.billing import format_money
from domain.errors import DomainError, NotAllowed, NotFound
from domain.permissions import Permission
from web.pages import Form, Invalid, form_error, page_router, parse, status_of_refusal
from web.render import redirect
from web.team import MyTeam, TeamPage, section_page

router = page_router()

#: The payment method form's fields, in the order the API's body has them.
CARD_FIELDS = tuple(PaymentMethodRequest.model_fields)
#: The brands the API accepts (its request model's choices), for the form's list.
BRANDS: tuple[str, ...] = get_args(PaymentMethodRequest.model_fields["brand"].annotation)


def _billing_page(
    request: Request, uow: UowDep, team: TeamPage, status: int = 200, **context: Any
) -> Response:
    session = uow.session
    invoices = billing.list_invoices(session, team.account, team.team_id)  # owners only
    try:
        method = payments.get_payment_method(session, team.account, team.team_id)
    except NotFound:
        method = None
    values: dict[str, str] = {}
    if method is not None:  # the form starts from what is on file (never the token)
        values = {
            "billing_email": method.billing_email,
            "brand": method.brand,
            "last4": method.last4,
            "exp_month": str(method.exp_month),
            "exp_year": str(method.exp_year),
        }
    return section_page(
        request,
        team,
        "billing",
        "Billing",
        status,
        invoices=invoices,
        method=method,
        brands=BRANDS,
        money=format_money,
        **({"fields": {}, "values": values} | context),
    )


@router.get("/team/billing")
def billing_page(request: Request, team: MyTeam, uow: UowDep) -> Response:
    return _billing_page(request, uow, team)


@router.post("/team/billing/payment-method")
def update_payment_method(request: Request, form: Form, team: MyTeam, uow: UowDep) -> Response:
    """``PUT /v1/teams/{id}/payment-method``: the provider's reference and the card's display
    fields; a card number in any field is refused (422, the domain's message beside it). The
    form's token is checked first (its parameter comes first): a forged form is 403 for
    anyone, signed in or not, before the team is looked up; then a member who may not manage
    payment gets the 404 page, as for the page itself, before anything they typed is read."""
    teams.authorize(uow.session, team.account, team.team_id, Permission.PAYMENT_MANAGE)
    try:
        body = parse(PaymentMethodRequest, form)
        payments.set_payment_method(
            uow.session, team.account, team.team_id, payments.CardOnFile(**body.model_dump())
        )
        uow.commit()
    except (DomainError, Invalid) as refused:
        if isinstance(refused, NotFound | NotAllowed):
            raise  # not an owner: the 404 page, as for the page itself
        uow.session.rollback()
        shown = form_error(refused, CARD_FIELDS)
        values = {  # shown again, but never the token, nor anything holding a card number
            name: value
            for name in CARD_FIELDS
            if name != "provider_token"
            and not payments.holds_card_number(value := form.get(name, ""))
        }
        return _billing_page(request, uow, team, status_of_refusal(refused), values=values, **shown)
    return redirect("/team/billing?done=payment-method")


# The PDF's route comes first: the invoice page's ``{invoice_id}`` would match "….pdf" too.
@router.get("/team/billing/invoices/{invoice_id}.pdf")
def invoice_pdf_page(invoice_id: str, team: MyTeam, uow: UowDep, services: ServicesDep) -> Response:
    """``GET /v1/teams/{id}/invoices/{id}/pdf``: the same document, as an attachment."""
    invoice, billed = billing.get_invoice(uow.session, team.account, team.team_id, invoice_id)
    return invoice_download(invoice, billed, services.settings)


@router.get("/team/billing/invoices/{invoice_id}")
def invoice_page(request: Request, invoice_id: str, team: MyTeam, uow: UowDep) -> Response:
    invoice, _billed = billing.get_invoice(uow.session, team.account, team.team_id, invoice_id)
    return section_page(
        request,
        team,
        "billing",
        f"Invoice for {invoice.period}",
        template="team/billing_invoice.html",
        invoice=invoice,
        money=format_money,
    )

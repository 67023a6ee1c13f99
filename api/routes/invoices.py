"""Invoices (docs/api.md): owners list, view and download them as PDF."""

from __future__ import annotations

from fastapi import Response

from api.deps import CurrentAccount, ServicesDep, UowDep
from api.errors import error_responses
from api.invoice_pdf import invoice_download
from api.routing import answer, api_router
from api.schemas import InvoiceList, InvoiceOut
from domain import billing

router = api_router(prefix="/v1/teams/{team_id}/invoices", tags=["billing"])


@router.get("", **answer(InvoiceList, 401, 403, 404))
def list_invoices(team_id: str, uow: UowDep, account: CurrentAccount) -> InvoiceList:
    """The team's invoices, newest period first (owners)."""
    return InvoiceList.of(billing.list_invoices(uow.session, account, team_id))


@router.get("/{invoice_id}", **answer(InvoiceOut, 401, 403, 404))
def get_invoice(team_id: str, invoice_id: str, uow: UowDep, account: CurrentAccount) -> InvoiceOut:
    invoice, _team = billing.get_invoice(uow.session, account, team_id, invoice_id)
    return InvoiceOut.model_validate(invoice)


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The invoice as PDF"},
        **error_responses(401, 403, 404),
    },
)
def download(
    team_id: str, invoice_id: str, uow: UowDep, account: CurrentAccount, services: ServicesDep
) -> Response:
    invoice, team = billing.get_invoice(uow.session, account, team_id, invoice_id)
    return invoice_download(invoice, team, services.settings)

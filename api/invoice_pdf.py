"""The invoice PDF as an HTTP download: what the API and the billing page both answer."""

from __future__ import annotations

from fastapi import Response

from domain.models import Invoice, Team
from infra.invoice_pdf import invoice_filename, seller_invoice_pdf
from infra.settings import Settings


def invoice_download(invoice: Invoice, team: Team, settings: Settings) -> Response:
    """The invoice as a PDF attachment."""
    return Response(
        seller_invoice_pdf(invoice, team, settings),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice_filename(invoice)}"'},
    )

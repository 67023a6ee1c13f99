"""An invoice as a PDF (fpdf2): seller, team, period, its lines, and the total. Downloaded from
the API and the billing page, and attached to the ``invoice_ready`` email."""

from __future__ import annotations

from fpdf import FPDF

from domain.billing import format_money
from domain.models import Invoice, Team
from infra.settings import Settings


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1; anything else is shown as '?' rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Invoice, team: Team, *, seller_name: str, seller_address: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Invoice {invoice.id}"))
    pdf.set_author(_latin1(seller_name))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(seller_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(seller_address), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in (
        ("Invoice", invoice.id),
        ("Billed to", f"{team.name} ({team.id})"),
        ("Period", invoice.period),
        ("Issued", invoice.issued_at.strftime("%Y-%m-%d")),
        ("Currency", invoice.currency),
    ):
        pdf.cell(30, 6, label)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    widths = (84, 16, 28, 28, 34)
    #: The usage column reads left to right; the figures line up on the right.
    aligns = ("L", "R", "R", "R", "R")
    pdf.set_font("Helvetica", "B", 10)
    for width, align, title in zip(
        widths, aligns, ("Usage", "Calls", "Input tokens", "Output tokens", "Amount"), strict=True
    ):
        pdf.cell(width, 7, title, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.line_items:
        cells = (
            line.description,
            f"{line.calls:,}",
            f"{line.input_tokens:,}",
            f"{line.output_tokens:,}",
            format_money(line.amount_cents, invoice.currency),
        )
        for width, align, value in zip(widths, aligns, cells, strict=True):
            pdf.cell(width, 7, _latin1(value), align=align)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:-1]), 9, "Total", border="T")
    pdf.cell(
        widths[-1],
        9,
        format_money(invoice.total_cents, invoice.currency),
        border="T",
        align="R",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(
        0,
        5,
        "Production usage only; trial usage is never billed. Amounts per line are "
        "rounded half up to the cent.",
    )
    return bytes(pdf.output())


def invoice_filename(invoice: Invoice) -> str:
    """What the PDF is called, downloaded or attached to its email."""
    return f"teamkeys-{invoice.period}-{invoice.id}.pdf"


def seller_invoice_pdf(invoice: Invoice, team: Team, settings: Settings) -> bytes:
    """The invoice as this deployment's seller (``TEAMKEYS_SELLER_*``) issues it: the one
    document the download and the email's attachment both are."""
    return invoice_pdf(
        invoice, team, seller_name=settings.seller_name, seller_address=settings.seller_address
    )

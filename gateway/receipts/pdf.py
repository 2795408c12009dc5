"""A receipt as a PDF, drawn with fpdf2 (pure Python: no system libraries to install).

Text is set in the bundled DejaVu Sans (gateway/static/fonts, with its licence), because
the PDF core fonts are latin-1 only and names and addresses are not. fpdf2 embeds only
the glyphs used, so a receipt stays a few tens of kB. It is imported when a PDF is asked
for (fpdf2 brings Pillow and fontTools), never when the app starts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..clock import day_text
from .document import ReceiptDoc, rows

FONT = Path(__file__).resolve().parent.parent / "static" / "fonts" / "DejaVuSans.ttf"


def render(doc: ReceiptDoc, created: datetime, compress: bool = True) -> bytes:
    """The PDF's bytes; `created` is its creation date (the injected clock's now)."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_creation_date(created)
    pdf.set_title(f"Receipt {doc.number or doc.txn_id}")
    pdf.set_author(doc.seller_name or "Tollgate")
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, height: float = 5.5) -> None:
        pdf.set_font("DejaVu", size=size)
        pdf.multi_cell(width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(f"Receipt {doc.number or '(not yet numbered: payment pending)'}", size=18, height=9)
    if doc.issued_at:
        line(f"Issued {day_text(doc.issued_at)}")
    pdf.ln(4)
    for title, lines in (
        (
            "From",
            [doc.seller_name, *doc.seller_address]
            + ([f"Tax id: {doc.seller_tax_id}"] if doc.seller_tax_id else []),
        ),
        (
            "To",
            [doc.buyer_name or "", doc.buyer_email]
            + ([f"PayPal payer: {doc.payer_email}"] if doc.payer_email else []),
        ),
    ):
        line(title, size=12, height=7)
        for text in lines:
            if text:
                line(text)
        pdf.ln(3)
    pdf.set_font("DejaVu", size=10)
    label_w = width * 0.4
    for label, value in rows(doc):
        pdf.cell(label_w, 6.5, label, border="B")
        pdf.multi_cell(width - label_w, 6.5, value, border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())

"""A document people read (`shared.privacy.notice.Document`) as a PDF, with fpdf2.

The font is DejaVu Sans, shipped in `services/web/fonts/` (its licence beside it): the PDF renders `é`, `€`,
`œ` and the narrow no-break space of French amounts on any machine, whatever fonts it has installed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.privacy.notice import Document

FONTS = Path(__file__).parent / "fonts"
_FONT = "DejaVu"


class _Pages(FPDF):
    """A4 pages with the document's title and the page number at the foot."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, size=7)
        self.set_text_color(90)
        self.cell(0, 5, f"{self.footer_text} — page {self.page_no()}/{{nb}}", align="C")


def document_pdf(document: Document, *, made_at: datetime | None = None, author: str = "Microcrédit accompagné") -> bytes:
    """The document as PDF bytes: title, lead, then each section's paragraphs, bullet points, table and records."""
    pdf = _Pages(format="A4")
    pdf.footer_text = document.title
    pdf.add_font(_FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(_FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(document.title)
    pdf.set_author(author)
    pdf.set_lang("fr-FR")
    if made_at is not None:
        pdf.set_creation_date(made_at)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font(_FONT, "B", 16)
    pdf.multi_cell(0, 8, document.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(_FONT, size=10)
    pdf.multi_cell(0, 5, document.lead, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in document.sections:
        pdf.ln(4)
        pdf.set_font(_FONT, "B", 12)
        pdf.multi_cell(0, 6, section.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FONT, size=9)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 4.6, paragraph, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        for item in section.items:
            pdf.multi_cell(0, 4.6, f"•  {item}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if section.table:
            pdf.ln(1)
            with pdf.table(text_align="LEFT", line_height=4.4, first_row_as_headings=True) as table:
                for values in section.table:
                    row = table.row()
                    for value in values:
                        row.cell(value)
        for record in section.records:
            pdf.ln(1.5)
            pdf.set_font(_FONT, "B", 9)
            pdf.multi_cell(0, 4.6, record.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font(_FONT, size=8)
            for label, value in record.fields:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 4, f"{label} : {value}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())

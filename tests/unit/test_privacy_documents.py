"""The information notice and the register of processing activities, written from the declared processing and the
retention rules: what the applicant reads says the durations the platform applies."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from deploy.privacy import register
from services.web.pdf import document_pdf
from shared.privacy.notice import Document, notice
from shared.privacy.processing import RETENTION_FILE
from tests.support.pdf import text

pytestmark = pytest.mark.unit

TODAY = date(2026, 12, 1)


def _read(document: Document) -> str:
    """Everything the notice says, one string with single spaces."""
    parts = [document.title, document.lead]
    for section in document.sections:
        parts += [section.title, *section.paragraphs, *section.items, *(v for row in section.table for v in row)]
    return " ".join(" ".join(parts).split())


def test_the_committed_register_is_what_the_declaration_writes() -> None:
    committed = register.REGISTER.read_text(encoding="utf-8")
    assert committed == register.render(), "run: python -m deploy.privacy.register --write"


def test_the_notice_gives_every_retention_period_of_the_configuration_with_its_legal_reason() -> None:
    rules = tomllib.loads(RETENTION_FILE.read_text(encoding="utf-8"))["rule"]
    said = _read(notice(TODAY))

    periods = {"P6M": "Conservées 6 mois", "P5Y": "Conservées 5 ans", "P1Y": "Conservées 1 an"}
    for rule in rules:
        assert " ".join(rule["legal_reason"].split()) in said, rule["id"]
        if rule["keep"] in periods:
            assert periods[rule["keep"]] in said, rule["id"]
    assert "Conservées jusqu'à la fin du prêt" in said and "l'effacement est refusé" in said
    for recipient in ("banque partenaire", "Fonds de cohésion sociale", "Banque de France (fichier FICP)", "CNIL"):
        assert recipient in said


def test_a_retention_period_changed_in_the_configuration_changes_the_notice(tmp_path: Path) -> None:
    changed = tmp_path / "retention.toml"
    changed.write_text(
        RETENTION_FILE.read_text(encoding="utf-8")
        + '\n[[rule]]\nid = "file-not-a-loan"\nsince = 2027-01-01\napplies_to = "x"\nfrom = "x"\nkeep = "P3M"\nthen = "erase"\n'
        'legal_reason = "Trois mois suffisent désormais."\n',
        encoding="utf-8",
    )

    before, after = _read(notice(TODAY, changed)), _read(notice(date(2027, 1, 1), changed))

    assert "Conservées 6 mois" in before and "Trois mois suffisent" not in before
    assert "Conservées 3 mois" in after and "Trois mois suffisent désormais." in after and "Conservées 6 mois" not in after


def test_the_notice_as_pdf_reads_in_french() -> None:
    pdf = document_pdf(notice(TODAY))

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    read = " ".join(text(pdf).split())
    assert "Vos données personnelles et le microcrédit accompagné" in read
    assert "Conservées 6 mois" in read and "Restos du Cœur" in read and "Délégué·e à la protection des données" in read

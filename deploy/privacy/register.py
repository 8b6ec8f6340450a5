"""Write the register of processing activities (RGPD art. 30): `python -m deploy.privacy.register` (`--write`).

Everything in it comes from the declaration of `shared/privacy/processing.py` and the retention rules of
`deploy/privacy/retention.toml` (their latest entries): `docs/registre-des-traitements.md` is this output,
and a test checks that the committed file is what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared.privacy.processing import (
    CONTROLLER, DPO_CONTACT, PROCESSING, SECURITY, TRANSFERS, RetentionRule, retention_rules,
)

REGISTER = Path(__file__).resolve().parents[2] / "docs" / "registre-des-traitements.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The register, in Markdown."""
    rules = retention_rules()
    out = [
        "# Registre des activités de traitement",
        "",
        "RGPD, article 30. Écrit par `python -m deploy.privacy.register --write` à partir de la déclaration des traitements",
        "(`shared/privacy/processing.py`) et des règles de conservation datées (`deploy/privacy/retention.toml`) : ne pas",
        "modifier à la main.",
        "",
        f"**Responsable du traitement** : {CONTROLLER}",
        "",
        f"**Délégué·e à la protection des données** : {DPO_CONTACT}",
        "",
        f"**Transferts hors de l'Union européenne** : {TRANSFERS}",
        "",
        f"**Mesures de sécurité** : {SECURITY}",
        "",
    ]
    for n, processing in enumerate(PROCESSING, start=1):
        out += [
            f"## {n}. {processing.name}",
            "",
            "| | |",
            "|---|---|",
            f"| Finalité | {_cell(processing.purpose)} |",
            f"| Base légale | {_cell(processing.legal_basis)} |",
            f"| Personnes concernées | {_cell(processing.subjects)} |",
            f"| Catégories de données | {_cell(' ; '.join(processing.data))} |",
            f"| Destinataires | {_cell(' ; '.join(f'{r.name} ({r.receives})' for r in processing.recipients))} |",
            f"| Durées de conservation | {_cell(' '.join(_rule(rules[r]) for r in processing.retention if r in rules))} |",
            f"| Services qui les traitent | {', '.join(f'`{s}`' for s in processing.services)} |",
            "",
        ]
    out += ["## Règles de conservation", "", "| Règle | Depuis | Durée | Raison |", "|---|---|---|---|"]
    for rule in rules.values():
        out.append(f"| `{rule.id}` — {_cell(rule.covers)} | {rule.since:%d/%m/%Y} | {_cell(rule.summary)} | {_cell(rule.legal_reason)} |")
    return "\n".join(out) + "\n"


def _rule(rule: RetentionRule) -> str:
    return f"{rule.covers} : {rule.summary[0].lower()}{rule.summary[1:]}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        REGISTER.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())

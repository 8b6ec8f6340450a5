"""`make token ARGS="--role … --sub …"`: an access token from the local Keycloak, for scripts and curl.

A demo person (c-lefebvre, s-marchand, b-dubois, ops-durand, adm-moreau…) signs in with the password
`make run` generated; a bank's systems (`--role bank --bank credit-mutuel-nord` without `--sub`) with
their client's credentials; anyone else is first created in the realm, in the group of their
association and region (or bank), with their role.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from deploy.local.identity import IdentityError, LocalIdentity, bank_system
from shared.auth import Principal, Role


def main(argv: Sequence[str], state_dir: Path) -> int:
    """Print an access token for the principal the options describe."""
    parser = argparse.ArgumentParser(
        prog='make token ARGS="…"', description="Print an access token of the local Keycloak for a person or a bank's systems."
    )
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", help="the person's username, e.g. c-lefebvre (a bank without --sub: its systems)")
    parser.add_argument("--association", help="counsellors and supervisors: their association, e.g. secours-catholique")
    parser.add_argument("--region", help="counsellors and supervisors: their region, e.g. hauts-de-france")
    parser.add_argument("--bank", help="banks: the bank id, e.g. credit-mutuel-nord")
    args = parser.parse_args(list(argv))
    try:
        identity = LocalIdentity.of_state_dir(state_dir)
        if args.sub is not None and identity.knows(args.sub):  # a demo person: the realm knows their scope
            print(asyncio.run(identity.person_token(args.sub)))
            return 0
    except (IdentityError, OSError) as exc:
        parser.exit(1, f"no token: {exc}\n(is the platform running? `make run`)\n")
    if args.role == Role.BANK and args.sub is None:
        if not args.bank:
            parser.error("a bank token names its bank: --bank credit-mutuel-nord")
        principal = bank_system(args.bank)
    else:
        if args.sub is None:
            parser.error("--sub is required (the person's username)")
        try:
            principal = Principal(
                subject=args.sub, role=args.role, association_id=args.association, region=args.region, bank_id=args.bank
            )
        except ValidationError as exc:
            parser.error(str(exc.errors()[0]["msg"]))
    try:
        print(asyncio.run(identity.token(principal)))
    except (IdentityError, OSError) as exc:
        parser.exit(1, f"no token: {exc}\n(is the platform running? `make run`)\n")
    return 0

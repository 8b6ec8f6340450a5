"""What checking an access token costs a service, beside the raw cost of its RSA signature.

    .venv/bin/python -m bench.tokens [--calls 3000]      # on a running platform (`make run`)

Takes a real token of the running Keycloak (a demo counsellor's) and measures, in this process:
- the service's whole check (`shared.oidc.TokenVerifier.claims` + `principal_from_claims`, keys cached), for
  a token it sees the first time and for the same token again (remembered while its key is trusted);
- the raw ceilings measured in the same run: the RSA-SHA256 signature check alone (`cryptography`), and
  PyJWT's decode of the same token with the same key;
- then, over HTTP, an authenticated read (`GET /applications?limit=1` on intake) against the same
  service's `/health` (no token, no database), sequentially, for the share of a request it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from deploy.local.identity import LocalIdentity
from deploy.local.infra import DEFAULT_STATE_DIR
from deploy.local.services import read_manifest
from shared.auth import AUDIENCE, Principal, Role, principal_from_claims
from shared.oidc import KeySet, TokenVerifier


def _micros(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"mean {statistics.fmean(samples) * 1e6:8.1f} µs   p50 {statistics.median(samples) * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs"


async def _timed(calls: int, work: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return samples


async def run(state_dir: Path, calls: int) -> None:
    """Measure and print."""
    manifest = read_manifest(state_dir / "run" / "platform.json")
    identity = LocalIdentity.of_state_dir(state_dir)
    person = Principal(subject="c-lefebvre", role=Role.COUNSELLOR, association_id="secours-catholique", region="hauts-de-france")
    token = await identity.token(person)
    keys = KeySet(identity.issuer, now=lambda: datetime.now(UTC))
    verifier = TokenVerifier(keys, audience=AUDIENCE, leeway_seconds=30, now=lambda: datetime.now(UTC))
    await verifier.claims(token)  # the keys, fetched once

    async def check() -> Principal:
        return principal_from_claims(await verifier.claims(token))

    async def first_check() -> Principal:
        verifier._verified.clear()  # as if each request brought a token never seen before
        return await check()

    key = (await keys.key(jwt.get_unverified_header(token)["kid"])).key
    signing_input, _, signature = token.rpartition(".")
    raw_signature = jwt.utils.base64url_decode(signature.encode())

    async def rsa_only() -> None:
        key.verify(raw_signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    async def pyjwt_only() -> None:
        jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, options={"verify_exp": False})

    print(f"token verification, {calls} calls each (load {os.getloadavg()[0]:.2f}):")
    print(f"  a token seen the first time   {_micros(await _timed(calls, first_check))}")
    print(f"  the same token again          {_micros(await _timed(calls, check))}")
    print(f"  ceiling: PyJWT decode alone   {_micros(await _timed(calls, pyjwt_only))}")
    print(f"  ceiling: RSA signature alone  {_micros(await _timed(calls, rsa_only))}")

    intake = str(manifest["services"]["intake"]["url"])  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=intake) as http:
        authenticated = await _timed(calls // 3, lambda: http.get("/applications", params={"limit": 1}, headers=headers))
        health = await _timed(calls // 3, lambda: http.get("/health"))
    print(f"over HTTP on intake, sequential, {calls // 3} requests each:")
    print(f"  GET /applications?limit=1     {_micros(authenticated)}")
    print(f"  GET /health (no token, no SQL) {_micros(health)}")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.tokens", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("MC_STATE_DIR", DEFAULT_STATE_DIR)))
    args = parser.parse_args()
    asyncio.run(run(args.state_dir.resolve(), args.calls))


if __name__ == "__main__":
    main()

"""Schemathesis hooks: every request carries a fresh X-authenticate header, computed as the
seed describes (tests/rest/seed_client.py), so the fuzzer reaches the handlers instead of
the 401 in front of them. Loaded with SCHEMATHESIS_HOOKS=schemathesis_hooks (this folder on
PYTHONPATH); the PBX and the user come from CENTRALINO_BASE, CENTRALINO_USER,
CENTRALINO_PASSWORD (and CENTRALINO_DOMAIN, default "default")."""

import os

import schemathesis

from seed_client import Client

CLIENT = Client(
    os.environ["CENTRALINO_BASE"],
    os.environ.get("CENTRALINO_USER", "admin"),
    os.environ.get("CENTRALINO_PASSWORD", "admin"),
    os.environ.get("CENTRALINO_DOMAIN", "default"),
    insecure=True,
)


@schemathesis.auth()
class XAuthenticate:
    """A new nonce and Created for every request (a header is single-use)."""

    def get(self, case, ctx):
        # The salt, fetched once; the header itself is made in `set`.
        return CLIENT.salt()

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["X-authenticate"] = CLIENT.header()

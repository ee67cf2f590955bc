"""Identity verification for the widget, as Intercom's ``user_hash``: the host site's server signs
the signed-in user's id with a secret it shares with firstlast; the widget passes the signature on.

    user_hash = hmac.new(secret, user_id.encode(), hashlib.sha256).hexdigest()   # on the host's server

A verified identity goes into the conversation's context as ``identity`` (trusted: agents may act on
it). An unverified one is kept apart as ``unverified_identity`` (what the visitor claims, shown to
agents as unverified, never merged into the trusted context), so a forged ``user_id`` cannot pass
for a real customer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def user_hash(user_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_context(user: Mapping[str, str | None], secret: str | None) -> dict[str, object]:
    """The context entry for a widget's user: ``identity`` when the hash checks, else
    ``unverified_identity``; empty when nothing was given."""
    claimed = {k: v for k in ("user_id", "email", "name") if (v := user.get(k))}
    if not claimed:
        return {}
    given, user_id = user.get("user_hash") or "", user.get("user_id") or ""
    if secret and user_id and given and hmac.compare_digest(given.lower(), user_hash(user_id, secret)):
        return {"identity": {**claimed, "verified": True}}
    return {"unverified_identity": {**claimed, "verified": False}}

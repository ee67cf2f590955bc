"""The A/B rollout: which arm a new conversation is in, by a stable hash.

The bot answers first in the ``bot`` arm; in the ``control`` arm the conversation goes straight to a
person. The same id always lands in the same arm (across processes and restarts), the share of
``bot`` is ``bot_percent``, and raising the percentage only moves conversations from control to bot.

    rollout = Rollout(bot_percent=50, salt="spring")
    rollout.arm("c0ffee", {"attributes": {"user_id": "u42"}})  # -> "bot" or "control"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Arm = Literal["bot", "control"]
ARMS: tuple[Arm, Arm] = ("bot", "control")
CONTROL_REASON = "rollout_control"  # the handoff reason of a control-arm conversation


def bucket(key: str, salt: str = "") -> float:
    """Where ``key`` falls in [0, 100): the first 8 bytes of SHA-256 of ``salt:key``, scaled."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


@dataclass(frozen=True)
class Rollout:
    bot_percent: float = 100.0
    salt: str = ""
    unit: Literal["conversation", "user"] = "conversation"
    user_attribute: str = "user_id"

    def __post_init__(self) -> None:
        if not 0 <= self.bot_percent <= 100:
            raise ValueError(f"bot_percent must be in [0, 100], got {self.bot_percent}")
        if self.unit not in ("conversation", "user"):
            raise ValueError(f"unit must be 'conversation' or 'user', got {self.unit!r}")

    def key(self, conversation_id: str, context: Mapping[str, object] | None = None) -> str:
        """The id that is hashed: the user attribute with ``unit="user"`` (so a returning customer
        keeps their arm), else, or when the attribute is missing, the conversation id."""
        if self.unit == "user":
            attributes = (context or {}).get("attributes")
            if isinstance(attributes, Mapping):
                user = attributes.get(self.user_attribute)
                if user not in (None, ""):
                    return f"user:{user}"
        return f"conversation:{conversation_id}"

    def arm(self, conversation_id: str, context: Mapping[str, object] | None = None) -> Arm:
        return (
            "bot" if bucket(self.key(conversation_id, context), self.salt) < self.bot_percent else "control"
        )

"""The A/B rollout's assignment: stable, in proportion, monotone in the percentage (pure)."""

from __future__ import annotations

import math
import uuid

import pytest

from firstlast.insights.rollout import Rollout, bucket

IDS = [uuid.UUID(int=i * 7919 + 13).hex for i in range(20_000)]


def test_the_same_conversation_always_lands_in_the_same_arm() -> None:
    first = [Rollout(50).arm(cid) for cid in IDS[:500]]
    again = [Rollout(50).arm(cid) for cid in IDS[:500]]  # a new object, as in another process
    assert first == again
    assert bucket("conversation:abc") == bucket("conversation:abc")


@pytest.mark.parametrize("percent", [10.0, 50.0, 85.0])
def test_the_bot_arm_gets_its_percentage_of_conversations(percent: float) -> None:
    n = len(IDS)
    share = sum(Rollout(percent).arm(cid) == "bot" for cid in IDS) / n
    sigma = math.sqrt(percent / 100 * (1 - percent / 100) / n)
    assert abs(share - percent / 100) < 4 * sigma, (share, percent)


def test_zero_and_hundred_percent_put_everyone_in_one_arm() -> None:
    assert {Rollout(0).arm(cid) for cid in IDS[:300]} == {"control"}
    assert {Rollout(100).arm(cid) for cid in IDS[:300]} == {"bot"}


def test_raising_the_percentage_only_moves_conversations_from_control_to_bot() -> None:
    before = {cid: Rollout(20).arm(cid) for cid in IDS[:2000]}
    after = {cid: Rollout(60).arm(cid) for cid in IDS[:2000]}
    assert all(after[cid] == "bot" for cid, arm in before.items() if arm == "bot")
    assert sum(a == "bot" for a in after.values()) > sum(b == "bot" for b in before.values())


def test_a_new_salt_draws_a_new_assignment() -> None:
    plain = [Rollout(50).arm(cid) for cid in IDS[:1000]]
    salted = [Rollout(50, salt="spring").arm(cid) for cid in IDS[:1000]]
    changed = sum(a != b for a, b in zip(plain, salted)) / 1000
    assert 0.4 < changed < 0.6  # independent draws disagree half the time


def test_with_unit_user_a_returning_customer_keeps_their_arm() -> None:
    rollout = Rollout(50, unit="user")
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        context = {"attributes": {"user_id": user}}
        assert len({rollout.arm(cid, context) for cid in IDS[:50]}) == 1
    # without the attribute the conversation id decides
    assert len({rollout.arm(cid, {"attributes": {}}) for cid in IDS[:50]}) == 2


def test_a_percentage_outside_0_to_100_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="120"):
        Rollout(120)

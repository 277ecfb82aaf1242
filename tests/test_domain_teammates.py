"""Teammates' roles and actors (domain.teammates, issue 13): pure rules, pinned for the mutation run."""

from __future__ import annotations

import pytest

from contactmerge.domain.teammates import (
    AGENT_ACTIONS,
    Action,
    allows,
    describe,
    teammate_actor,
    teammate_of,
    token_actor,
)

OWNER_ONLY = {
    Action.FORCE_MERGE,
    Action.APPLY_BATCH,
    Action.UNDO,
    Action.IMPORT,
    Action.MANAGE_TOKENS,
    Action.MANAGE_TEAMMATES,
}


@pytest.mark.parametrize("action", list(Action))
def test_owners_may_do_everything_and_agents_only_read_answer_merge_and_review(action: Action) -> None:
    assert allows("owner", action)
    assert allows("agent", action) == (action not in OWNER_ONLY)
    assert not allows("", action) and not allows("admin", action) and not allows("Owner", action)


def test_the_agent_actions_are_exactly_the_issues_list() -> None:
    assert {Action.READ, Action.ANSWER, Action.MERGE, Action.REVIEW} == AGENT_ACTIONS
    assert set(Action) - AGENT_ACTIONS == OWNER_ONLY


def test_an_actor_reads_as_a_teammate_a_token_or_a_system_part() -> None:
    assert teammate_of("admin:abc") == "abc"
    assert teammate_of("admin:") is None and teammate_of("token:abc") is None and teammate_of(None) is None
    assert describe("admin:abc", {"abc": "Ada"}) == "Ada"
    assert describe("admin:gone", {}) == "teammate gone"
    assert describe("token:zapier", {}) == "API token “zapier”"
    assert describe("worker-1", {}) == "worker-1"
    assert describe(None, {}) == "unknown" and describe("", {}) == "unknown"


def test_actors_are_written_as_the_records_keep_them() -> None:
    assert teammate_actor("abc") == "admin:abc" and token_actor("zapier") == "token:zapier"
    assert teammate_of(teammate_actor("abc")) == "abc"

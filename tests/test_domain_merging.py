"""The pure merge rules (design §3), without a database."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.merging import (
    ContactFacts,
    MergePlan,
    MergePolicy,
    MergeRefused,
    choose_survivor,
    plan_merge,
)

LEAD = ContactFacts(
    id="lead",
    workspace_id="w",
    role="lead",
    created_at=100,
    last_seen_at=500,
    email="Lead@Example.com",
    email_normalized="lead@example.com",
    email_verified=False,
    phone="+1 512 555 0100",
    phone_e164="+15125550100",
    fields={"name": "Lead Name", "location_city": "Berlin", "os": None},
    custom_attributes={"plan": "pro", "seats": 3, "empty": None},
)
USER = ContactFacts(
    id="user",
    workspace_id="w",
    role="user",
    created_at=200,
    last_seen_at=900,
    external_id="u-1",
    email="user@example.com",
    email_normalized="user@example.com",
    fields={"name": "User Name", "location_city": None, "os": "Linux"},
    custom_attributes={"plan": "free"},
)


def planned(source: ContactFacts = LEAD, target: ContactFacts = USER, **policy: object) -> MergePlan:
    plan = plan_merge(source, target, MergePolicy(**policy))  # type: ignore[arg-type]
    assert isinstance(plan, MergePlan), plan
    return plan


def test_the_survivors_values_win_and_the_leads_fill_what_is_empty() -> None:
    outcomes = {d.name: d.outcome for d in planned().attributes}
    assert outcomes["name"] == "conflict"
    assert outcomes["location_city"] == "adopted"
    assert outcomes["custom_attributes.plan"] == "conflict"
    assert outcomes["custom_attributes.seats"] == "adopted"
    assert "custom_attributes.empty" not in outcomes  # nothing to take
    assert "os" not in outcomes


def test_a_workspace_can_let_the_leads_value_win_for_one_attribute() -> None:
    plan = planned(prefer_source=frozenset({"custom_attributes.plan"}))
    decision = next(d for d in plan.attributes if d.name == "custom_attributes.plan")
    assert decision.outcome == "adopted" and decision.source_value == "pro"


def test_identifiers_are_never_overwritten_but_kept_as_secondary() -> None:
    plan = planned()
    email = next(d for d in plan.attributes if d.name == "email")
    assert email.outcome == "kept"
    assert [(s.kind, s.normalized, s.provenance) for s in plan.secondary_identifiers] == [
        ("email", "lead@example.com", "claimed")
    ]


def test_the_older_created_at_survives() -> None:
    assert planned().created_at == 100


@pytest.mark.parametrize(
    ("source", "target", "policy", "code"),
    [
        (replace(USER, id="u2"), LEAD, {}, "invalid_merge"),
        (replace(USER, id="u2"), USER, {}, "invalid_merge"),
        (
            replace(USER, id="u2", external_id="u-2", email_normalized="x@example.com", phone_e164=None),
            USER,
            {"force": True},
            "users_share_no_identifier",
        ),
        (LEAD, replace(LEAD, role="lead"), {}, "merge_into_self"),
        (replace(LEAD, workspace_id="other"), USER, {}, "merge_across_workspaces"),
        (replace(LEAD, merged_into_id="x"), USER, {}, "already_merged"),
        (LEAD, replace(USER, merged_into_id="x"), {}, "target_merged"),
    ],
)
def test_refusals_have_their_own_codes(
    source: ContactFacts, target: ContactFacts, policy: dict[str, object], code: str
) -> None:
    refused = plan_merge(source, target, MergePolicy(**policy))  # type: ignore[arg-type]
    assert isinstance(refused, MergeRefused)
    assert refused.code == code


def test_two_users_merge_with_force_when_they_share_a_verified_identifier() -> None:
    other = replace(USER, id="u2", external_id="u-1-old")
    assert isinstance(plan_merge(other, USER, MergePolicy(force=True)), MergePlan)
    stranger = replace(USER, id="u3", external_id="zzz", email_normalized="z@example.com", phone_e164=None)
    assert isinstance(
        plan_merge(stranger, USER, MergePolicy(force=True, skip_duplicate_validation=True)), MergePlan
    )


@pytest.mark.parametrize(
    "junk", ["null", "undefined", "anonymous", "0", "-1", "[object Object]", "NaN", " ", "blocked"]
)
def test_junk_evidence_is_refused(junk: str) -> None:
    refused = plan_merge(
        LEAD, USER, MergePolicy(blocklist=("BLOCKED",)), reason="email_match", evidence={"email": junk}
    )
    assert isinstance(refused, MergeRefused) and refused.code == "junk_identifier"


def test_fan_in_cap_holds_the_merge() -> None:
    refused = plan_merge(LEAD, USER, MergePolicy(fan_in_cap=50), recent_merges_into_target=50)
    assert isinstance(refused, MergeRefused) and refused.code == "fan_in_cap"
    assert isinstance(
        plan_merge(LEAD, USER, MergePolicy(fan_in_cap=50), recent_merges_into_target=49), MergePlan
    )


def test_the_user_survives_then_verified_then_recent_then_old() -> None:
    assert choose_survivor(LEAD, USER)[0].id == "user"
    verified = replace(LEAD, id="a", email_verified=True, last_seen_at=1)
    claimed = replace(LEAD, id="b", email_verified=False, last_seen_at=999)
    assert choose_survivor(claimed, verified)[0].id == "a"
    recent = replace(verified, id="c", last_seen_at=1000)
    assert choose_survivor(verified, recent)[0].id == "c"
    older = replace(verified, id="d", created_at=1)
    assert choose_survivor(older, verified)[0].id == "d"


facts = st.builds(
    ContactFacts,
    id=st.sampled_from(["a", "b", "c"]),
    workspace_id=st.just("w"),
    role=st.sampled_from(["lead", "user"]),
    created_at=st.integers(0, 10),
    last_seen_at=st.one_of(st.none(), st.integers(0, 10)),
    email_verified=st.booleans(),
    external_id=st.one_of(st.none(), st.just("x")),
)


@given(facts, facts)
def test_survivor_choice_does_not_depend_on_argument_order(a: ContactFacts, b: ContactFacts) -> None:
    if a.id != b.id:
        assert choose_survivor(a, b)[0] == choose_survivor(b, a)[0]

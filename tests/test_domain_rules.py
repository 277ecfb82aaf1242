"""The domain rules that `make mutation` measures (issue 10), without a database.

Junk identifiers and how emails compare (domain.identifiers); the merge refusals of design §3, which
identifiers two users must share before a forced merge, what the survivor keeps (domain.merging).
Refusals are compared whole (code, message, field): the message is what the API caller and the held
merge record show.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.identifiers import (
    canonical_email,
    email_domain,
    is_junk,
    junk_test,
    provider_email,
)
from contactmerge.domain.merging import (
    AttributeDecision,
    ContactFacts,
    MergePlan,
    MergePolicy,
    MergeRefused,
    SecondaryIdentifier,
    choose_survivor,
    plan_merge,
)

# ---------------------------------------------------------------------------------------------------
# Junk identifiers
# ---------------------------------------------------------------------------------------------------

# design §3: `null`, `undefined`, `anonymous`, `0`, `-1`, `[object Object]`, `NaN`, empty; also `None`.
PLACEHOLDERS = ["null", "undefined", "anonymous", "0", "-1", "[object Object]", "NaN", "", "None"]


@pytest.mark.parametrize(
    "value", [*PLACEHOLDERS, "NULL", " Undefined ", "ANONYMOUS", "nan", "none", "  ", None]
)
def test_placeholders_whatever_their_case_and_padding_identify_nobody(value: str | None) -> None:
    assert is_junk(value)
    assert junk_test()(value)


@pytest.mark.parametrize(
    "value", ["nul", "nulls", "00", "1", "-", "-1.0", "[object]", "anon", "nan1", "user-0", "ada@example.com"]
)
def test_values_that_only_look_like_placeholders_are_identifiers(value: str) -> None:
    assert not is_junk(value)
    assert not junk_test(["test@example.com"])(value)


@given(
    st.sampled_from(PLACEHOLDERS),
    st.lists(st.booleans(), min_size=20, max_size=20),
    st.text(" \t\n", max_size=3),
    st.text(" \t\n", max_size=3),
)
def test_a_placeholder_stays_junk_in_any_case_and_padding(
    placeholder: str, upper: list[bool], left: str, right: str
) -> None:
    spelled = "".join(c.upper() if up else c.lower() for c, up in zip(placeholder, upper, strict=False))
    assert is_junk(f"{left}{spelled}{right}")


def test_the_workspace_blocklist_is_folded_like_the_values_it_refuses() -> None:
    blocklist = [" Test@Example.COM ", "N/A"]
    assert is_junk("test@example.com", blocklist)
    assert is_junk("  TEST@example.com", blocklist)
    assert is_junk("n/a", blocklist)
    junk = junk_test(blocklist)
    assert junk("TEST@EXAMPLE.COM") and junk("n/a ")
    # the built-in placeholders still count next to a blocklist, and other values are not caught by it
    assert junk("null") and junk(None)
    assert not junk("ada@example.com")
    # a blocklist belongs to its workspace: it does not leak into a check without it
    assert not is_junk("test@example.com")
    assert not junk_test()("n/a")


# ---------------------------------------------------------------------------------------------------
# How emails compare
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        (" Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("ada@Bücher.de", "ada@xn--bcher-kva.de"),  # IDNA domain
        ('"a@b"@Bücher.de', '"a@b"@xn--bcher-kva.de'),  # the domain is what follows the last @
        ("Ada@Bü..DE", "ada@bü..de"),  # a domain IDNA refuses is kept as given, lower-cased
        ("Not-An-Email", "not-an-email"),  # no @: trimmed and lower-cased
        ("@Example.COM", "@example.com"),
    ],
)
def test_canonical_email(address: str, canonical: str) -> None:
    assert canonical_email(address) == canonical


def test_the_email_domain_is_what_follows_the_last_at() -> None:
    assert email_domain("ada@example.com") == "example.com"
    assert email_domain('"a@b"@example.com') == "example.com"
    assert email_domain("no-domain") == "no-domain"


GMAIL = ("gmail.com", "googlemail.com")
# The providers documenting ``+tag`` sub-addressing but not Gmail's dots (identifiers.MAILBOX_RULES).
PLUS_TAGS_ONLY = (
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "fastmail.com",
    "fastmail.fm",
    "protonmail.com",
    "protonmail.ch",
    "proton.me",
    "pm.me",
)


@pytest.mark.parametrize("domain", GMAIL)
def test_gmail_ignores_dots_and_plus_tags_and_googlemail_is_gmail(domain: str) -> None:
    assert provider_email(f" John.Doe+News@{domain.upper()} ") == "johndoe@gmail.com"
    assert provider_email(f"j.o+a+b@{domain}") == "jo@gmail.com"  # the tag starts at the first +
    assert provider_email(f"johndoe@{domain}") == "johndoe@gmail.com"


@pytest.mark.parametrize("domain", PLUS_TAGS_ONLY)
def test_the_other_listed_providers_ignore_plus_tags_but_not_dots(domain: str) -> None:
    assert provider_email(f"John.Doe+news+x@{domain.upper()}") == f"john.doe@{domain}"
    assert provider_email(f"john.doe@{domain}") == f"john.doe@{domain}"
    # the provider is what follows the last @ (as in canonical_email and the SQL of storage.dedupe)
    assert provider_email(f'"john@x"+tag@{domain}') == f'"john@x"@{domain}'


@pytest.mark.parametrize(
    "address",
    ["john.doe+news@example.com", "j.o.h.n@yahoo.com", "@googlemail.com", "@gmail.com", "gmail.com"],
)
def test_other_domains_and_addresses_without_a_local_part_are_read_as_given(address: str) -> None:
    assert provider_email(address) == canonical_email(address) == address


# ---------------------------------------------------------------------------------------------------
# Merge refusals (design §3): a clear error code, nothing planned
# ---------------------------------------------------------------------------------------------------

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
    phone="+1 512 555 0199",
    phone_e164="+15125550199",
)
# Another user sharing no identifier with USER.
STRANGER = replace(
    USER,
    id="stranger",
    external_id="u-2",
    email="stranger@example.com",
    email_normalized="stranger@example.com",
    phone="+1 512 555 0177",
    phone_e164="+15125550177",
)


def refusal(source: ContactFacts, target: ContactFacts, **options: Any) -> MergeRefused:
    policy = MergePolicy(**options.pop("policy", {}))
    refused = plan_merge(source, target, policy, **options)
    assert isinstance(refused, MergeRefused), refused
    return refused


def planned(source: ContactFacts = LEAD, target: ContactFacts = USER, **options: Any) -> MergePlan:
    policy = MergePolicy(**options.pop("policy", {}))
    plan = plan_merge(source, target, policy, **options)
    assert isinstance(plan, MergePlan), plan
    return plan


@pytest.mark.parametrize(
    ("source", "target", "policy", "expected"),
    [
        pytest.param(
            replace(LEAD, workspace_id="other"),
            USER,
            {},
            MergeRefused("merge_across_workspaces", "contacts of different workspaces are never merged"),
            id="across workspaces",
        ),
        pytest.param(
            LEAD,
            replace(LEAD, last_seen_at=None),
            {},
            MergeRefused("merge_into_self", "a contact cannot be merged into itself", "into"),
            id="into itself",
        ),
        pytest.param(
            LEAD,
            replace(USER, merged_into_id="u0"),
            {},
            MergeRefused("target_merged", "contact user was merged into u0; merge into that", "into"),
            id="into a tombstone",
        ),
        pytest.param(
            replace(LEAD, merged_into_id="u0"),
            USER,
            {},
            MergeRefused("already_merged", "contact lead is already merged into u0", "from"),
            id="from a tombstone",
        ),
        pytest.param(
            USER,
            LEAD,
            {"force": True, "skip_duplicate_validation": True},
            MergeRefused("invalid_merge", "a user cannot be merged into a lead", "from"),
            id="user into lead, even forced",
        ),
        pytest.param(
            replace(USER, id="u2"),
            USER,
            {"skip_duplicate_validation": True},
            MergeRefused("invalid_merge", "two users are merged only with force: true", "force"),
            id="two users without force",
        ),
        pytest.param(
            STRANGER,
            USER,
            {"force": True},
            MergeRefused(
                "users_share_no_identifier",
                "these users share no verified identifier; pass skip_duplicate_validation to merge anyway",
                "force",
            ),
            id="forced users sharing nothing",
        ),
    ],
)
def test_each_refusal_has_its_code_message_and_field(
    source: ContactFacts, target: ContactFacts, policy: dict[str, Any], expected: MergeRefused
) -> None:
    assert refusal(source, target, policy=policy) == expected


def test_a_lead_merges_into_a_user_and_two_leads_merge() -> None:
    planned(LEAD, USER)
    planned(LEAD, replace(LEAD, id="lead2"))


@pytest.mark.parametrize("key", ["email", "external_id", "phone", "session"])
@pytest.mark.parametrize(
    "junk", ["null", "undefined", "anonymous", "0", "-1", "[object Object]", "NaN", "", " "]
)
def test_junk_evidence_refuses_the_merge_and_names_its_field(key: str, junk: str) -> None:
    refused = refusal(LEAD, USER, reason="email_match", evidence={key: junk})
    assert refused == MergeRefused("junk_identifier", f"'{junk}' cannot identify a person", key)


@pytest.mark.parametrize("key", ["email", "external_id", "phone", "session"])
def test_evidence_on_the_workspace_blocklist_is_junk(key: str) -> None:
    policy = {"blocklist": ("Test@Example.com",)}
    refused = refusal(LEAD, USER, policy=policy, evidence={key: "TEST@example.com "})
    assert (refused.code, refused.field) == ("junk_identifier", key)


@pytest.mark.parametrize(
    "evidence",
    [
        {"email": "lead@example.com", "provenance": "claimed", "users": 2},
        {"external_id": "u-1"},
        {"phone": "+15125550100"},
        {"session": "anon-7f3a"},
        # only identifying evidence is checked: other entries may read like placeholders
        {"suggestion": "null", "provenance": "none", "row": "0"},
    ],
)
def test_real_evidence_lets_the_merge_through_and_is_recorded(evidence: dict[str, Any]) -> None:
    plan = planned(LEAD, USER, reason="email_match", evidence=evidence)
    assert plan.evidence == evidence and plan.reason == "email_match"


def test_past_the_fan_in_cap_the_merge_is_held() -> None:
    assert planned(recent_merges_into_target=49).target_id == "user"
    assert refusal(LEAD, USER, recent_merges_into_target=50) == MergeRefused(
        "fan_in_cap",
        "contact user absorbed 50 merges in 24 hours (cap 50); this merge is held for review",
        "into",
    )
    # the workspace's own cap; a target that absorbed nothing takes its first merge
    planned(policy={"fan_in_cap": 1})
    assert refusal(LEAD, USER, policy={"fan_in_cap": 1}, recent_merges_into_target=1).code == "fan_in_cap"
    assert refusal(LEAD, USER, recent_merges_into_target=51).code == "fan_in_cap"


# ---------------------------------------------------------------------------------------------------
# Forced merge of two users: they must share a verified identifier
# ---------------------------------------------------------------------------------------------------

FORCE = {"force": True}


def test_the_verified_identifiers_of_a_contact() -> None:
    assert USER.verified_identifiers() == {
        ("external_id", "u-1"),
        ("email", "user@example.com"),
        ("phone", "+15125550199"),
    }
    # a claimed email is not one; the phone is
    assert LEAD.verified_identifiers() == {("phone", "+15125550100")}
    assert ContactFacts(id="v", workspace_id="w", role="lead", created_at=1).verified_identifiers() == set()


@pytest.mark.parametrize(
    "shared",
    [
        {"external_id": "u-1"},
        {"email": "user@example.com", "email_normalized": "user@example.com"},
        {"phone": "(512) 555-0199", "phone_e164": "+15125550199"},
    ],
    ids=["external_id", "verified email", "phone"],
)
def test_forced_users_sharing_a_verified_identifier_merge(shared: dict[str, Any]) -> None:
    plan = planned(replace(STRANGER, **shared), USER, policy=FORCE)
    assert (plan.source_id, plan.target_id, plan.forced) == ("stranger", "user", True)


@pytest.mark.parametrize(
    ("source_change", "target_change"),
    [
        ({"email": "user@example.com", "email_normalized": "user@example.com", "email_verified": False}, {}),
        ({"email": "user@example.com", "email_normalized": "user@example.com"}, {"email_verified": False}),
        (
            {"email": "user@example.com", "email_normalized": "user@example.com", "email_verified": False},
            {"email_verified": False},
        ),
    ],
    ids=["source claimed", "target claimed", "both claimed"],
)
def test_a_claimed_email_is_not_a_shared_verified_identifier(
    source_change: dict[str, Any], target_change: dict[str, Any]
) -> None:
    refused = refusal(replace(STRANGER, **source_change), replace(USER, **target_change), policy=FORCE)
    assert (refused.code, refused.field) == ("users_share_no_identifier", "force")


@pytest.mark.parametrize(
    "junk",
    [
        {"external_id": "null"},
        {"external_id": "undefined"},
        {"phone": "0", "phone_e164": "0"},
        {"phone": "-1", "phone_e164": "-1"},
        {"email": "null", "email_normalized": "null"},
    ],
    ids=["external_id null", "external_id undefined", "phone 0", "phone -1", "email null"],
)
def test_a_shared_junk_identifier_is_not_a_shared_verified_identifier(junk: dict[str, Any]) -> None:
    refused = refusal(replace(STRANGER, **junk), replace(USER, **junk), policy=FORCE)
    assert refused.code == "users_share_no_identifier"


def test_users_with_only_unshared_identifiers_share_nothing() -> None:
    no_phones: dict[str, Any] = {"phone": None, "phone_e164": None}
    only_phones: dict[str, Any] = {"external_id": None, "email": None, "email_normalized": None}
    for change in (no_phones, only_phones):
        refused = refusal(replace(STRANGER, **change), replace(USER, **change), policy=FORCE)
        assert refused.code == "users_share_no_identifier"
    # the same value under two kinds is not shared: an external id is not a phone
    crossed = refusal(
        replace(STRANGER, external_id="+15125550199", phone=None, phone_e164=None),
        replace(USER, external_id=None),
        policy=FORCE,
    )
    assert crossed.code == "users_share_no_identifier"


def test_skip_duplicate_validation_merges_forced_users_sharing_nothing() -> None:
    plan = planned(STRANGER, USER, policy={"force": True, "skip_duplicate_validation": True})
    assert plan.forced is True


def test_only_a_merge_of_users_is_recorded_as_forced() -> None:
    assert planned(LEAD, USER, policy=FORCE).forced is False
    assert planned(LEAD, USER).forced is False


@pytest.mark.parametrize(
    ("facts", "verified"),
    [
        (USER, True),
        (replace(LEAD, email_verified=True), True),
        (LEAD, False),  # claimed email, phone
        (replace(USER, external_id=None, email_verified=False), False),
        (replace(LEAD, email=None, email_normalized=None, email_verified=True), False),
        (replace(LEAD, external_id="u-9"), True),
    ],
    ids=["user", "verified email", "claimed email", "claimed email, no id", "no email", "external id"],
)
def test_has_verified_identifier(facts: ContactFacts, verified: bool) -> None:
    assert facts.has_verified_identifier is verified


def test_a_junk_external_id_does_not_make_a_contact_verified() -> None:
    assert not replace(LEAD, external_id="null").has_verified_identifier


def test_users_sharing_only_a_blocklisted_identifier_share_nothing() -> None:
    source = replace(
        USER,
        id="a",
        external_id=None,
        email="help@acme.test",
        email_normalized="help@acme.test",
        phone=None,
        phone_e164=None,
    )
    target = replace(source, id="b", created_at=source.created_at + 1)
    shared = plan_merge(source, target, MergePolicy(force=True, blocklist=("HELP@acme.test ",)))
    assert isinstance(shared, MergeRefused) and shared.code == "users_share_no_identifier"
    assert isinstance(plan_merge(source, target, MergePolicy(force=True)), MergePlan)


# ---------------------------------------------------------------------------------------------------
# What the survivor keeps
# ---------------------------------------------------------------------------------------------------


def test_the_plan_names_both_contacts_and_the_default_reason() -> None:
    plan = planned()
    assert (plan.source_id, plan.target_id, plan.reason, plan.evidence) == ("lead", "user", "api", {})
    assert plan.created_at == 100 and plan.forced is False


def test_a_differing_email_is_kept_as_a_secondary_identifier_with_its_provenance() -> None:
    assert planned().secondary_identifiers == (
        SecondaryIdentifier("email", "Lead@Example.com", "lead@example.com", "claimed"),
        SecondaryIdentifier("phone", "+1 512 555 0100", "+15125550100", "verified"),
    )
    verified = planned(replace(LEAD, email_verified=True, phone=None, phone_e164=None))
    assert verified.secondary_identifiers == (
        SecondaryIdentifier("email", "Lead@Example.com", "lead@example.com", "verified"),
    )


def test_identifiers_the_survivor_already_has_are_not_kept_twice() -> None:
    same = replace(
        LEAD, email="USER@example.com", email_normalized="user@example.com", phone_e164="+15125550199"
    )
    assert planned(same).secondary_identifiers == ()


def test_identifiers_the_survivor_lacks_are_adopted_not_kept_as_secondary() -> None:
    bare = replace(USER, external_id=None, email=None, email_normalized=None, phone=None, phone_e164=None)
    plan = planned(replace(LEAD, external_id="l-1"), bare)
    assert plan.secondary_identifiers == ()
    adopted = {d.name: d for d in plan.adopted}
    assert adopted["email"] == AttributeDecision(
        "email", "adopted", None, "Lead@Example.com", "the survivor had no value"
    )
    assert adopted["phone"] == AttributeDecision(
        "phone", "adopted", None, "+1 512 555 0100", "the survivor had no value"
    )
    assert adopted["external_id"] == AttributeDecision(
        "external_id", "adopted", None, "l-1", "the survivor had no value"
    )


def decisions(plan: MergePlan) -> dict[str, AttributeDecision]:
    return {d.name: d for d in plan.attributes}


def test_identifiers_are_never_overwritten() -> None:
    other = replace(STRANGER, email="user@example.com", email_normalized="user@example.com")
    found = decisions(planned(other, USER, policy={**FORCE, "prefer_source": frozenset({"external_id"})}))
    assert found["external_id"] == AttributeDecision(
        "external_id", "kept", "u-1", "u-2", "identifiers are never overwritten"
    )
    assert found["email"] == AttributeDecision(
        "email", "same", "user@example.com", "user@example.com", "identifiers are never overwritten"
    )
    assert found["phone"].outcome == "conflict"  # a phone is a field with a value: the survivor's wins
    assert planned(other, USER, policy=FORCE).conflicts == (found["phone"],)


def test_each_attribute_outcome_and_its_reason() -> None:
    lead = replace(
        LEAD,
        fields={"name": "Lead Name", "os": "", "location_city": "Berlin", "browser": "Firefox"},
        custom_attributes={"plan": "pro", "seats": 3, "tier": "gold", "note": "", "gone": None, "x": "y"},
    )
    user = replace(
        USER,
        phone=None,
        phone_e164=None,
        fields={"name": "User Name", "os": "Linux", "location_city": "", "browser": "Firefox"},
        custom_attributes={"plan": "free", "tier": "gold", "note": "vip", "x": ""},
    )
    found = decisions(planned(lead, user, policy={"prefer_source": frozenset({"custom_attributes.seats"})}))
    nothing = "nothing to take from the source"
    assert found == {
        "name": AttributeDecision(
            "name", "conflict", "User Name", "Lead Name", "both had a value: the survivor's wins"
        ),
        "location_city": AttributeDecision(
            "location_city", "adopted", "", "Berlin", "the survivor had no value"
        ),
        "browser": AttributeDecision("browser", "same", "Firefox", "Firefox", nothing),
        "phone": AttributeDecision("phone", "adopted", None, "+1 512 555 0100", "the survivor had no value"),
        "email": AttributeDecision(
            "email", "kept", "user@example.com", "Lead@Example.com", "identifiers are never overwritten"
        ),
        "custom_attributes.note": AttributeDecision("custom_attributes.note", "kept", "vip", "", nothing),
        "custom_attributes.plan": AttributeDecision(
            "custom_attributes.plan", "conflict", "free", "pro", "both had a value: the survivor's wins"
        ),
        "custom_attributes.seats": AttributeDecision(
            "custom_attributes.seats", "adopted", None, 3, "the survivor had no value"
        ),
        "custom_attributes.tier": AttributeDecision(
            "custom_attributes.tier", "same", "gold", "gold", nothing
        ),
        "custom_attributes.x": AttributeDecision(
            "custom_attributes.x", "adopted", "", "y", "the survivor had no value"
        ),
    }
    assert found["custom_attributes.plan"].is_custom and not found["name"].is_custom


def test_a_workspace_setting_lets_the_sources_value_win() -> None:
    lead = replace(LEAD, fields={"name": "Lead Name"}, custom_attributes={"plan": "pro"})
    user = replace(USER, fields={"name": "User Name"}, custom_attributes={"plan": "free"})
    prefer = frozenset({"name", "custom_attributes.plan"})
    found = decisions(planned(lead, user, policy={"prefer_source": prefer}))
    source_wins = "workspace setting: the source's value wins"
    assert found["name"] == AttributeDecision("name", "adopted", "User Name", "Lead Name", source_wins)
    assert found["custom_attributes.plan"] == AttributeDecision(
        "custom_attributes.plan", "adopted", "free", "pro", source_wins
    )


# ---------------------------------------------------------------------------------------------------
# Who survives (design §3): the user; else verified identifiers, most recently seen, oldest
# ---------------------------------------------------------------------------------------------------


def survivor(a: ContactFacts, b: ContactFacts) -> str:
    first, absorbed = choose_survivor(a, b)
    assert {first.id, absorbed.id} == {a.id, b.id} and choose_survivor(b, a)[0] == first
    return first.id


def test_the_user_survives_even_unverified_newer_and_less_recently_seen() -> None:
    user = replace(USER, external_id=None, email_verified=False, last_seen_at=1, created_at=900)
    lead = replace(LEAD, email_verified=True, last_seen_at=1000, created_at=1)
    assert survivor(user, lead) == "user"


def test_between_two_leads_verified_then_recent_then_old() -> None:
    verified = replace(LEAD, id="verified", email_verified=True, last_seen_at=1, created_at=900)
    claimed = replace(LEAD, id="claimed", email_verified=False, last_seen_at=1000, created_at=1)
    assert survivor(verified, claimed) == "verified"
    recent = replace(verified, id="recent", last_seen_at=2)
    assert survivor(verified, recent) == "recent"
    never_seen = replace(verified, id="never", last_seen_at=None, created_at=1)
    assert survivor(never_seen, verified) == "verified"
    older = replace(verified, id="older", created_at=899)
    assert survivor(verified, older) == "older"


def test_between_two_users_the_verified_one_survives() -> None:
    claimed = replace(USER, id="claimed", external_id=None, email_verified=False, last_seen_at=1000)
    assert survivor(claimed, USER) == "user"

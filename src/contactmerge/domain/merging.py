"""Merge rules (design §3): who survives, what is refused, and what happens to every attribute.

``plan_merge`` is pure: it takes snapshots of two contacts and a policy and returns either a
``MergePlan`` that records every decision with its reason, or a ``MergeRefused`` with an error code.
The merging service applies the plan and stores it: the plan is what preview shows, what the merge
record keeps, and what undo reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from contactmerge.domain.identifiers import is_junk, junk_test

Reason = Literal["api", "session_cookie", "email_match", "csv_import", "bulk"]
Outcome = Literal["adopted", "kept", "conflict", "same"]

# Standard fields the survivor can take from the source when its own is empty.
PLAIN_FIELDS = (
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "location_country",
    "location_region",
    "location_city",
)
FILLABLE_FIELDS = (*PLAIN_FIELDS, "phone", "external_id", "email")
DEFAULT_FAN_IN_CAP = 50


@dataclass(frozen=True)
class ContactFacts:
    """What the rules need to know about one contact."""

    id: str
    workspace_id: str
    role: str
    created_at: int
    last_seen_at: int | None = None
    external_id: str | None = None
    email: str | None = None
    email_normalized: str | None = None
    email_verified: bool = True
    phone: str | None = None
    phone_e164: str | None = None
    merged_into_id: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    custom_attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_verified_identifier(self) -> bool:
        """An external_id or a verified email that can identify someone (a junk one cannot)."""
        return any(kind != "phone" for kind, _ in self.verified_identifiers())

    def verified_identifiers(self, blocklist: Iterable[str] = ()) -> set[tuple[str, str]]:
        """The identifiers that may tie this contact to another: never a claimed email, a junk value or
        one on the workspace's blocklist."""
        junk = junk_test(blocklist)
        found: set[tuple[str, str]] = set()
        if self.external_id and not junk(self.external_id):
            found.add(("external_id", self.external_id))
        if self.email_normalized and self.email_verified and not junk(self.email_normalized):
            found.add(("email", self.email_normalized))
        if self.phone_e164 and not junk(self.phone_e164):
            found.add(("phone", self.phone_e164))
        return found


@dataclass(frozen=True)
class MergePolicy:
    force: bool = False
    skip_duplicate_validation: bool = False
    blocklist: tuple[str, ...] = ()
    fan_in_cap: int = DEFAULT_FAN_IN_CAP
    # Per-attribute override of "the survivor's value wins": "source" makes the source's value win.
    prefer_source: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AttributeDecision:
    name: str
    outcome: Outcome
    survivor_value: Any
    source_value: Any
    reason: str

    @property
    def is_custom(self) -> bool:
        return self.name.startswith("custom_attributes.")


@dataclass(frozen=True)
class SecondaryIdentifier:
    kind: Literal["email", "phone"]
    value: str
    normalized: str
    provenance: Literal["verified", "claimed"]


@dataclass(frozen=True)
class MergePlan:
    source_id: str
    target_id: str
    reason: Reason
    evidence: Mapping[str, Any]
    attributes: tuple[AttributeDecision, ...]
    secondary_identifiers: tuple[SecondaryIdentifier, ...]
    created_at: int
    forced: bool

    @property
    def adopted(self) -> tuple[AttributeDecision, ...]:
        return tuple(d for d in self.attributes if d.outcome == "adopted")

    @property
    def conflicts(self) -> tuple[AttributeDecision, ...]:
        return tuple(d for d in self.attributes if d.outcome == "conflict")


@dataclass(frozen=True)
class MergeRefused:
    code: str
    message: str
    field: str | None = None


def plan_merge(
    source: ContactFacts,
    target: ContactFacts,
    policy: MergePolicy,
    *,
    reason: Reason = "api",
    evidence: Mapping[str, Any] | None = None,
    recent_merges_into_target: int = 0,
) -> MergePlan | MergeRefused:
    """R1-R5: the plan for folding ``source`` into ``target``, or why it must not happen."""
    refused = _refusal(source, target, policy, evidence or {}, recent_merges_into_target)
    if refused is not None:
        return refused
    decisions = [*_standard_decisions(source, target, policy), *_custom_decisions(source, target, policy)]
    return MergePlan(
        source_id=source.id,
        target_id=target.id,
        reason=reason,
        evidence=dict(evidence or {}),
        attributes=tuple(decisions),
        secondary_identifiers=_secondary_identifiers(source, target),
        created_at=min(source.created_at, target.created_at),
        forced=policy.force and source.role == "user",
    )


def _refusal(
    source: ContactFacts,
    target: ContactFacts,
    policy: MergePolicy,
    evidence: Mapping[str, Any],
    recent_merges_into_target: int,
) -> MergeRefused | None:
    if source.workspace_id != target.workspace_id:
        return MergeRefused("merge_across_workspaces", "contacts of different workspaces are never merged")
    if source.id == target.id:
        return MergeRefused("merge_into_self", "a contact cannot be merged into itself", "into")
    if target.merged_into_id is not None:
        return MergeRefused(
            "target_merged",
            f"contact {target.id} was merged into {target.merged_into_id}; merge into that",
            "into",
        )
    if source.merged_into_id is not None:
        return MergeRefused(
            "already_merged", f"contact {source.id} is already merged into {source.merged_into_id}", "from"
        )
    if source.role == "user" and target.role != "user":
        return MergeRefused("invalid_merge", "a user cannot be merged into a lead", "from")
    if source.role == "user" and target.role == "user":
        if not policy.force:
            return MergeRefused("invalid_merge", "two users are merged only with force: true", "force")
        if not policy.skip_duplicate_validation and not (
            source.verified_identifiers(policy.blocklist) & target.verified_identifiers(policy.blocklist)
        ):
            return MergeRefused(
                "users_share_no_identifier",
                "these users share no verified identifier; pass skip_duplicate_validation to merge anyway",
                "force",
            )
    for key, value in evidence.items():
        identifying = key in ("email", "external_id", "phone", "session") and isinstance(value, str)
        if identifying and is_junk(value, policy.blocklist):
            return MergeRefused("junk_identifier", f"'{value}' cannot identify a person", key)
    if recent_merges_into_target >= policy.fan_in_cap:
        return MergeRefused(
            "fan_in_cap",
            f"contact {target.id} absorbed {recent_merges_into_target} merges in 24 hours "
            f"(cap {policy.fan_in_cap}); this merge is held for review",
            "into",
        )
    return None


def _decide(name: str, survivor: Any, source: Any, prefer_source: bool) -> AttributeDecision:
    if source is None or source == "" or survivor == source:
        outcome: Outcome = "same" if survivor == source else "kept"
        return AttributeDecision(name, outcome, survivor, source, "nothing to take from the source")
    if survivor is None or survivor == "":
        return AttributeDecision(name, "adopted", survivor, source, "the survivor had no value")
    if prefer_source:
        return AttributeDecision(
            name, "adopted", survivor, source, "workspace setting: the source's value wins"
        )
    return AttributeDecision(name, "conflict", survivor, source, "both had a value: the survivor's wins")


def _standard_decisions(
    source: ContactFacts, target: ContactFacts, policy: MergePolicy
) -> list[AttributeDecision]:
    decisions = []
    for name in FILLABLE_FIELDS:
        survivor_value = _standard(target, name)
        source_value = _standard(source, name)
        if name in ("external_id", "email") and survivor_value and source_value:
            # Identifiers are never overwritten; a differing one is kept as a secondary identifier.
            decision = AttributeDecision(
                name,
                "same" if survivor_value == source_value else "kept",
                survivor_value,
                source_value,
                "identifiers are never overwritten",
            )
        else:
            decision = _decide(name, survivor_value, source_value, name in policy.prefer_source)
        if source_value not in (None, ""):
            decisions.append(decision)
    return decisions


def _standard(facts: ContactFacts, name: str) -> Any:
    if name == "external_id":
        return facts.external_id
    if name == "email":
        return facts.email
    if name == "phone":
        return facts.phone
    return facts.fields.get(name)


def _custom_decisions(
    source: ContactFacts, target: ContactFacts, policy: MergePolicy
) -> list[AttributeDecision]:
    return [
        _decide(
            f"custom_attributes.{name}",
            target.custom_attributes.get(name),
            value,
            f"custom_attributes.{name}" in policy.prefer_source,
        )
        for name, value in sorted(source.custom_attributes.items())
        if value is not None
    ]


def _secondary_identifiers(source: ContactFacts, target: ContactFacts) -> tuple[SecondaryIdentifier, ...]:
    kept: list[SecondaryIdentifier] = []
    if (
        source.email
        and source.email_normalized
        and target.email_normalized
        and (source.email_normalized != target.email_normalized)
    ):
        provenance: Literal["verified", "claimed"] = "verified" if source.email_verified else "claimed"
        kept.append(SecondaryIdentifier("email", source.email, source.email_normalized, provenance))
    if source.phone and source.phone_e164 and target.phone_e164 and source.phone_e164 != target.phone_e164:
        kept.append(SecondaryIdentifier("phone", source.phone, source.phone_e164, "verified"))
    return tuple(kept)


def choose_survivor(a: ContactFacts, b: ContactFacts) -> tuple[ContactFacts, ContactFacts]:
    """(survivor, absorbed): the user; else the one with verified identifiers, most recently seen, oldest."""

    def rank(c: ContactFacts) -> tuple[bool, bool, int, int, str]:
        return (
            c.role == "user",
            c.has_verified_identifier,
            c.last_seen_at or 0,
            -c.created_at,
            c.id,
        )

    return (a, b) if rank(a) >= rank(b) else (b, a)

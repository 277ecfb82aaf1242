"""Teammates' roles and actors (design §4): what an owner or an agent may do, and how a change names who
made it.

An actor is a string kept on every record of a change: ``admin:<id>`` for a teammate, ``token:<label>``
for an API token, else the name of the system part that acted (``messenger``, ``import``, a worker).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    AGENT = "agent"


class Action(StrEnum):
    READ = "read"  # contacts, conversations, merges, duplicates, imports
    ANSWER = "answer"  # reply, note, assign, close, reopen, snooze a conversation
    MERGE = "merge"  # preview and request a merge the rules allow (a lead into a user, two leads)
    REVIEW = "review"  # approve or reject a duplicate cluster or suggestion
    FORCE_MERGE = "force_merge"  # merge two users
    APPLY_BATCH = "apply_batch"
    UNDO = "undo"  # a merge, a batch, an import
    IMPORT = "import"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_TEAMMATES = "manage_teammates"


AGENT_ACTIONS = frozenset({Action.READ, Action.ANSWER, Action.MERGE, Action.REVIEW})


def allows(role: str, action: Action) -> bool:
    """Whether a teammate of ``role`` may take ``action``: owners everything, agents only AGENT_ACTIONS,
    an unknown role nothing."""
    if role == Role.OWNER:
        return True
    return role == Role.AGENT and action in AGENT_ACTIONS


ADMIN_PREFIX = "admin:"
TOKEN_PREFIX = "token:"


def teammate_actor(admin_id: str) -> str:
    return ADMIN_PREFIX + admin_id


def token_actor(label: str) -> str:
    return TOKEN_PREFIX + label


def teammate_of(actor: str | None) -> str | None:
    """The admin id an actor names, None when it is not a teammate."""
    if actor and actor.startswith(ADMIN_PREFIX) and len(actor) > len(ADMIN_PREFIX):
        return actor[len(ADMIN_PREFIX) :]
    return None


def describe(actor: str | None, names: dict[str, str]) -> str:
    """How an actor reads to a person: a teammate by name (``names``: admin id -> name), a token by its
    label, a system part by its own name."""
    if not actor:
        return "unknown"
    admin_id = teammate_of(actor)
    if admin_id is not None:
        return names.get(admin_id, f"teammate {admin_id}")
    if actor.startswith(TOKEN_PREFIX):
        return f"API token “{actor[len(TOKEN_PREFIX) :]}”"
    return actor

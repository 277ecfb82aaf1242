"""Creating contacts through the service (validation, normalization, uniqueness) against bare INSERTs."""

from __future__ import annotations

from sqlalchemy import insert

from bench.common import Result, fresh_database, timed
from contactmerge.domain.ids import new_id, now
from contactmerge.services import contacts, workspaces
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact

COUNT = 2_000


def run(backend: str) -> Result:
    with fresh_database(backend) as engine:
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as db:
            workspace = workspaces.create_workspace(db, "bench").workspace

        def through_service() -> None:
            with transaction(sessions) as db:
                for i in range(COUNT):
                    contacts.create_contact(
                        db,
                        workspace,
                        {
                            "role": "user",
                            "email": f"user{i}@example.com",
                            "external_id": f"u{i}",
                            "phone": f"+1 512 555 {i % 10000:04d}",
                        },
                        region="US",
                    )

        def bare_insert() -> None:
            stamp = now()
            rows = [
                {
                    "workspace_id": workspace.id,
                    "id": new_id(),
                    "role": "user",
                    "email": f"bare{i}@example.com",
                    "email_normalized": f"bare{i}@example.com",
                    "external_id": f"b{i}",
                    "custom_attributes": {},
                    "unsubscribed_from_emails": False,
                    "archived": False,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(COUNT)
            ]
            with engine.begin() as connection:
                connection.execute(insert(Contact), rows)

        baseline = timed(bare_insert)
        service = timed(through_service)
    return Result(
        "contact create",
        backend,
        {
            "contacts": COUNT,
            "service_per_s": COUNT / service,
            "bare_insert_per_s": COUNT / baseline,
            "ratio_service_to_bare": baseline / service,
        },
        "service path validates, normalizes and checks uniqueness per contact",
    )

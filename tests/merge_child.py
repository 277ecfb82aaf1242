"""A separate process that merges (or undoes) once: used by the concurrency and crash-safety tests.

    python -m tests.merge_child DB_URL WORKSPACE_ID SOURCE TARGET [--go FILE] [--die-at STEP]

Waits for ``--go`` to exist (so many children start together), prints one JSON line with the outcome,
and with ``--die-at`` kills itself with SIGKILL when the merge reaches that step.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from contactmerge.errors import ContactMergeError
from contactmerge.services import faults, merging
from contactmerge.storage.db import make_engine, make_sessionmaker, transaction
from contactmerge.storage.tables import Workspace


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("workspace_id")
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--go")
    parser.add_argument("--die-at")
    args = parser.parse_args()

    engine = make_engine(args.url)
    sessions = make_sessionmaker(engine)
    if args.die_at:

        def die(step: str) -> None:
            if step == args.die_at:
                os.kill(os.getpid(), signal.SIGKILL)

        faults.hook = die
    if args.go:
        deadline = time.monotonic() + 60
        while not Path(args.go).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
    try:
        with transaction(sessions) as db:
            workspace = db.get_one(Workspace, args.workspace_id)
            result = merging.merge_contacts(db, workspace, args.source, args.target)
            outcome = {"status": "replayed" if result.replayed else "merged", "merge_id": result.merge.id}
        if args.die_at == "committed":
            os.kill(os.getpid(), signal.SIGKILL)
    except ContactMergeError as error:
        outcome = {"status": "refused", "code": error.code}
    print(json.dumps(outcome))
    sys.stdout.flush()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A worker in a separate process that runs an uploaded import and stalls midway, for the resume test.

    python -m tests.import_child DB_URL --stall-at STEP --stalled FILE [--after N] [--stale SECONDS]

Claims and runs the pending import as any worker does (``Worker.run_once``), until the import reaches step
STEP of ``services.faults`` for the Nth time (``import_chunk_read``: between two chunks;
``import_chunk_recorded``: inside a chunk's transaction, its rows written but not committed). There it
creates FILE and waits forever (its heartbeat thread still running) for the test to SIGKILL it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from contactmerge.services import faults
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.worker.runner import Worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--stall-at", required=True)
    parser.add_argument("--stalled", required=True)
    parser.add_argument("--after", type=int, default=2)
    parser.add_argument("--stale", type=float, default=30)
    args = parser.parse_args()

    engine = make_engine(args.url)
    worker = Worker(make_sessionmaker(engine), name="doomed", import_stale_seconds=args.stale)
    seen = 0

    def stall(step: str) -> None:
        nonlocal seen
        if step == args.stall_at:
            seen += 1
            if seen == args.after:
                Path(args.stalled).touch()
                threading.Event().wait()

    faults.hook = stall
    ran = worker.run_once()
    print(json.dumps({"ran": ran, "stalled": False}))  # the test fails: the import was never stalled
    sys.stdout.flush()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

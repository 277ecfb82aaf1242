"""A worker in a separate process, for the worker load and crash tests.

    python -m tests.worker_child DB_URL [--go FILE] [--name NAME] [--die-after N [--die-step STEP]
                                 [--inside FILE]] [--deadline SECONDS]

Waits for ``--go`` to exist (so several workers start together), then applies marks until none is ready
any more, counting marks another worker still holds (or held when it died: those are claimed again once
its transaction is gone), and prints one JSON line: ``{"name", "handled"}``. With ``--die-after N`` it
kills itself with SIGKILL when it has recorded its Nth merge, inside the transaction applying it (or, with
``--die-step``, when a merge reaches that step of ``services.faults`` for the Nth time); ``--inside`` names
a file it touches once the merges it will die in have locked their contacts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from contactmerge.services import faults
from contactmerge.storage.db import make_engine, make_sessionmaker
from contactmerge.storage.tables import MergeMark
from contactmerge.worker.runner import Worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--go")
    parser.add_argument("--name", default="worker")
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--die-step", default="recorded")
    parser.add_argument("--inside", help="Touched when the batch it dies in has locked its contacts.")
    parser.add_argument("--deadline", type=float, default=120)
    args = parser.parse_args()

    engine = make_engine(args.url)
    sessions = make_sessionmaker(engine)
    worker = Worker(sessions, name=args.name)
    if args.die_after:
        recorded = locked = 0

        def die(step: str) -> None:
            nonlocal recorded, locked
            if step == "locked" and args.inside:
                locked += 1
                if locked == args.die_after:
                    Path(args.inside).touch()
            if step == args.die_step:
                recorded += 1
                if recorded >= args.die_after:
                    os.kill(os.getpid(), signal.SIGKILL)

        faults.hook = die
    if args.go:
        wait_until = time.monotonic() + 60
        while not Path(args.go).exists() and time.monotonic() < wait_until:
            time.sleep(0.005)
    deadline = time.monotonic() + args.deadline
    handled = 0
    while time.monotonic() < deadline:
        handled += worker.drain()
        with sessions() as db:  # without SKIP LOCKED: marks another worker holds count too
            left = db.scalar(
                select(func.count()).where(
                    MergeMark.state == "ready", MergeMark.next_attempt_at <= time.time()
                )
            )
        if not left:
            break
        time.sleep(0.05)
    print(json.dumps({"name": args.name, "handled": handled}))
    sys.stdout.flush()
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

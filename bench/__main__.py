"""``make bench``: run every benchmark on every configured backend, print JSON then a short table."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from bench import contacts, dedupe_quality, dedupe_scale, import_messy, imports, load, merges, messenger
from bench.common import Result, backends

BENCHES = {
    "contacts": contacts.run,
    "merge-typical": merges.run_typical,
    "merge-heavy": merges.run_heavy,
    "import": imports.run,
    "import-messy": import_messy.run,
    "dedupe-scale": dedupe_scale.run,
    "messenger-ping": messenger.run_ping,
    "messenger-login": messenger.run_login,
    "dedupe-quality": dedupe_quality.run,
    "load": load.run,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        print(
            f"error: unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}",
            file=sys.stderr,
        )
        return 2
    results: list[Result] = []
    for name in chosen:
        for backend in backends():
            outcome = BENCHES[name](backend)  # one Result, or a list of them (dedupe-quality, load)
            results.extend(outcome if isinstance(outcome, list) else [outcome])
    print(json.dumps([asdict(r) for r in results], indent=2))
    table = Table("benchmark", "backend", "figures")
    for r in results:
        table.add_row(r.name, r.backend, "  ".join(f"{k}={v:,.2f}" for k, v in r.figures.items()))
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

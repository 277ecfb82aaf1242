"""Load held: 32 clients for a minute against a real server holding 100,000 contacts.

Three phases, each ``BENCH_LOAD_CLIENTS`` (default 32) client threads (one keep-alive httpx client each) for
a warm-up and then ``BENCH_LOAD_SECONDS`` (default 60) measured seconds, against one uvicorn server:

- the mix: returning pings (most), new visitors' pings, ``GET /contacts`` walking pages, simple
  ``POST /contacts/search`` queries, and ``POST /contacts/merge`` of a lead with history into a user;
- pings only (returning and new in the mix's proportion);
- ``POST /bench/constant`` (``bench.messenger.bench_app``), the same stack answering a constant.

``ratio_ping_to_bare`` = pings/s of the second phase / requests/s of the third, both at the same concurrency
on the same server process: while the server is the bottleneck, the share of a ping's cost that the HTTP
stack alone accounts for (1.0: the ping's own work is free).

The server runs in a process of its own (``python -m uvicorn``): in a thread of this process it would share
the GIL with the clients. Any non-200 answer and any connection error or timeout is an error; the server's
log is scanned for tracebacks too.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, select, text, update

from bench.common import Result, fresh_database
from bench.merges import seed_pairs
from bench.messenger import bench_app, free_port, percentile, seed_visitors
from contactmerge.services import workspaces
from contactmerge.settings import Settings
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact

CONTACTS = 100_000
MERGE_PAIRS = 2_000  # lead/user pairs kept for merges, part of CONTACTS; a few hundred are used
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "32"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WARMUP_SECONDS = min(5.0, SECONDS / 4)
TIMEOUT_SECONDS = 30.0
MIX = {"ping_returning": 70, "ping_new": 10, "list": 8, "search": 8, "merge": 4}
PINGS = {"ping_returning": MIX["ping_returning"], "ping_new": MIX["ping_new"]}
BARE = {"bare": 1}
PER_PAGE = (10, 50, 150)
PAGE_URL = "https://example.com/pricing"
ROOT = Path(__file__).resolve().parent.parent


def server_app() -> FastAPI:
    """The served app (``uvicorn --factory bench.load:server_app``), configured from ``CONTACTMERGE_*``."""
    return bench_app(Settings())


@dataclass
class Server:
    url: str
    pid: int
    log: Path

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@contextmanager
def serving(database_url: str) -> Iterator[Server]:
    """``server_app`` in its own uvicorn process (uvloop and httptools when installed) on a free port."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.load:server_app", "--factory", "--no-access-log"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, "CONTACTMERGE_DATABASE_URL": database_url},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(f"http://127.0.0.1:{port}", process.pid, log)
        try:
            wait_until_up(server, process)
            yield server
        finally:
            process.terminate()  # uvicorn shuts down gracefully: the lifespan flushes and stops the worker
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bench server exited: {server.log.read_text(errors='replace')}")
        try:
            if httpx.post(f"{server.url}/bench/constant").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the bench server did not start within 60 s")


@dataclass
class Seeded:
    app_id: str
    token: str
    anonymous_ids: list[str]
    emails: list[str]
    pairs: list[tuple[str, str]]


def seed(engine: Engine) -> Seeded:
    """MERGE_PAIRS (lead with a conversation and events, user) pairs, then users and leads with an email
    and a live session up to CONTACTS, all in one workspace, with bulk INSERTs."""
    with transaction(make_sessionmaker(engine)) as db:
        created = workspaces.create_workspace(db, "bench")
    workspace = created.workspace
    pairs = seed_pairs(
        engine, workspace.id, MERGE_PAIRS, conversations=1, parts=3, events=5, attributes=0, tags=[]
    )
    with engine.begin() as connection:  # both seeders number external ids u0, u1, …
        connection.execute(
            update(Contact)
            .where(Contact.workspace_id == workspace.id, Contact.external_id.is_not(None))
            .values(external_id="pair-" + Contact.external_id)
        )
    anonymous_ids = seed_visitors(engine, workspace.id, CONTACTS - 2 * MERGE_PAIRS, roles=("user", "lead"))
    with engine.connect() as connection:
        query = select(Contact.email).where(
            Contact.workspace_id == workspace.id, Contact.email.like("c%@example.com")
        )
        emails = [email for email in connection.scalars(query) if email]
    return Seeded(workspace.app_id, created.token, anonymous_ids, emails, pairs)


class Traffic:
    """What each kind of request sends. Merge pairs are shared by all clients, each merged once."""

    def __init__(self, seeded: Seeded) -> None:
        self.seeded = seeded
        self._pairs = iter(seeded.pairs)
        self._lock = threading.Lock()
        self.pairs_taken = 0

    def next_pair(self) -> tuple[str, str] | None:
        with self._lock:
            pair = next(self._pairs, None)
            self.pairs_taken += pair is not None
            return pair

    def request(
        self, kind: str, rng: random.Random, cursor: dict[str, str]
    ) -> tuple[str, str, str, dict[str, Any]]:
        """Kind actually sent (a returning ping once the merge pairs are used up), method, path, options."""
        s = self.seeded
        if kind == "merge":
            pair = self.next_pair()
            if pair is not None:
                return kind, "POST", "/contacts/merge", {"json": {"from": pair[0], "into": pair[1]}}
            kind = "ping_returning"
        if kind == "ping_returning":
            body = {"app_id": s.app_id, "anonymous_id": rng.choice(s.anonymous_ids), "page_url": PAGE_URL}
            return kind, "POST", "/messenger/ping", {"json": body}
        if kind == "ping_new":
            return kind, "POST", "/messenger/ping", {"json": {"app_id": s.app_id, "page_url": PAGE_URL}}
        if kind == "list":
            params = {"per_page": cursor.get("per_page") or str(rng.choice(PER_PAGE))}
            if "starting_after" in cursor:
                params["starting_after"] = cursor["starting_after"]
            return kind, "GET", "/contacts", {"params": params}
        if kind == "search":
            return kind, "POST", "/contacts/search", {"json": search_body(rng, s.emails)}
        assert kind == "bare"
        return kind, "POST", "/bench/constant", {"json": {"app_id": s.app_id}}


def search_body(rng: random.Random, emails: list[str]) -> dict[str, Any]:
    """One of: an exact email, a role, a role and an email prefix."""
    shape = rng.randrange(3)
    if shape == 0:
        return {"query": {"field": "email", "operator": "=", "value": rng.choice(emails)}}
    role = {"field": "role", "operator": "=", "value": rng.choice(("user", "lead"))}
    if shape == 1:
        return {"query": role, "pagination": {"per_page": 50}}
    prefix = rng.choice(emails)[:4]  # c123: about a hundred contacts
    starts = {"field": "email", "operator": "^", "value": prefix}
    return {"query": {"operator": "AND", "value": [role, starts]}}


@dataclass
class Phase:
    """What one phase measured: latencies of the requests completed in the measured window, by kind."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def figures(self, prefix: str, kinds: list[str]) -> dict[str, float]:
        everything = [s for k in kinds for s in self.latencies.get(k, [])]
        out = {f"{prefix}_per_s": len(everything) / self.seconds}
        out |= latency(prefix, everything)
        return out


def latency(prefix: str, samples: list[float]) -> dict[str, float]:
    if not samples:
        return {f"{prefix}_p50_ms": float("nan"), f"{prefix}_p99_ms": float("nan")}
    return {
        f"{prefix}_p50_ms": percentile(samples, 50) * 1000,
        f"{prefix}_p99_ms": percentile(samples, 99) * 1000,
    }


def hold(server: Server, traffic: Traffic, mix: dict[str, int]) -> Phase:
    """CLIENTS threads send requests drawn from ``mix`` back to back for WARMUP_SECONDS + SECONDS."""
    kinds, weights = list(mix), list(mix.values())
    phase = Phase(SECONDS)
    lock = threading.Lock()
    start = time.perf_counter()
    measured_from, until = start + WARMUP_SECONDS, start + WARMUP_SECONDS + SECONDS

    def client(n: int) -> None:
        rng = random.Random(n)
        cursor: dict[str, str] = {}
        mine: dict[str, list[float]] = {k: [] for k in kinds}
        headers = {"Authorization": f"Bearer {traffic.seeded.token}", "Accept": "application/json"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT_SECONDS) as http:
            while (began := time.perf_counter()) < until:
                kind, method, path, options = traffic.request(rng.choices(kinds, weights)[0], rng, cursor)
                response: httpx.Response | None = None
                try:
                    response = http.request(method, path, **options)
                except httpx.HTTPError as error:
                    failure, example = f"{kind} {type(error).__name__}", str(error)
                else:
                    failure, example = f"{kind} {response.status_code}", response.text[:300]
                done = time.perf_counter()
                if response is None or response.status_code != 200:
                    with lock:
                        phase.errors[failure] += 1
                        phase.examples.setdefault(failure, example)
                    continue
                if kind == "list":
                    follow(cursor, response)
                if began >= measured_from and done <= until:
                    mine[kind].append(done - began)
        with lock:
            for k, samples in mine.items():
                phase.latencies.setdefault(k, []).extend(samples)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measured_from - time.perf_counter()))
    before = cpu_now(server)
    for thread in threads:
        thread.join()
    after = cpu_now(server)
    wall = after["wall"] - before["wall"]
    phase.cpu = {k: (after[k] - before[k]) / wall * 100 for k in ("server", "bench")}
    busy, total = after["busy"] - before["busy"], after["total"] - before["total"]
    phase.cpu["machine_all_cores"] = busy / total * 100
    return phase


def follow(cursor: dict[str, str], response: httpx.Response) -> None:
    """Walk the contact list: the next page's cursor, or back to the first page with a new page size."""
    following = response.json()["pages"].get("next")
    cursor.clear()
    if following:
        cursor |= {"starting_after": following["starting_after"], "per_page": str(following["per_page"])}


def cpu_now(server: Server) -> dict[str, float]:
    """CPU seconds of the server process, of this process, and of the whole machine (/proc/stat jiffies)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {
        "wall": time.perf_counter(),
        "server": server.cpu_seconds(),
        "bench": time.process_time(),
        "busy": sum(ticks) - ticks[3] - ticks[4],  # all but idle and iowait
        "total": sum(ticks),
    }


def connections_opened(engine: Engine) -> float:
    """PostgreSQL sessions ever opened on the bench database (pg_stat_database, flushed within a second)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    time.sleep(1.1)
    with engine.connect() as connection:
        query = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return float(connection.scalar(query) or 0)


def run(backend: str) -> list[Result]:
    started = time.perf_counter()
    with fresh_database(backend) as engine:
        seeded = seed(engine)
        traffic = Traffic(seeded)
        url = engine.url.render_as_string(hide_password=False)
        with serving(url) as server:
            phases: dict[str, Phase] = {}
            opened: dict[str, float] = {}
            for name, weights in (("mix", MIX), ("pings", PINGS), ("bare", BARE)):
                before = connections_opened(engine)
                phases[name] = hold(server, traffic, weights)
                opened[name] = connections_opened(engine) - before
            tracebacks = server.tracebacks()
            log_tail = server.log.read_text(errors="replace")[-2000:] if tracebacks else ""
    mix, pings, bare = phases["mix"], phases["pings"], phases["bare"]
    errors = {name: sum(p.errors.values()) for name, p in phases.items()}
    figures: dict[str, float] = {"contacts": CONTACTS, "clients": CLIENTS, "seconds": SECONDS}
    figures |= mix.figures("total", list(MIX))
    for kind in MIX:
        figures |= mix.figures(kind, [kind])
    figures |= {"errors": errors["mix"], "merge_pairs_left": MERGE_PAIRS - traffic.pairs_taken}
    figures |= diagnostics(mix, opened["mix"], backend)
    versus = pings.figures("ping", list(PINGS)) | bare.figures("bare", ["bare"])
    versus["ratio_ping_to_bare"] = versus["ping_per_s"] / versus["bare_per_s"]
    versus |= {"ping_errors": errors["pings"], "bare_errors": errors["bare"]}
    versus |= {f"ping_{k}": v for k, v in diagnostics(pings, opened["pings"], backend).items()}
    versus |= {f"bare_{k}": v for k, v in diagnostics(bare, opened["bare"], backend).items()}
    versus["bench_minutes"] = (time.perf_counter() - started) / 60
    failures = "; ".join(
        f"{name}: {dict(p.errors)} e.g. {p.examples}" for name, p in phases.items() if p.errors
    )
    note = (
        f"{CLIENTS} clients, {WARMUP_SECONDS:g} s warm-up then {SECONDS:g} s per phase, server in its own "
        f"process; mix weights {MIX}; server tracebacks: {tracebacks}"
        + (f"; errors: {failures}" if failures else "")
        + (f"; server log: {log_tail}" if log_tail else "")
    )
    return [
        Result("load mix", backend, figures, note),
        Result(
            "load pings vs bare",
            backend,
            versus,
            f"pings only (returning:new {PINGS['ping_returning']}:{PINGS['ping_new']}) then POST "
            f"/bench/constant, {CLIENTS} clients each, same server (goal: ratio >= 0.5, errors 0)",
        ),
    ]


def diagnostics(phase: Phase, opened: float, backend: str) -> dict[str, float]:
    """CPU use in the measured window (server and bench: 100 = one core busy; machine: share of all cores)
    and, on PostgreSQL, connections the server opened."""
    out = {f"{k}_cpu_pct": v for k, v in phase.cpu.items()}
    if backend == "postgres":
        out["pg_connections_opened"] = opened
    return out

"""The messenger over HTTP: ping rate and latency at 100,000 contacts against a constant endpoint on the same
server stack, and how long after a login ping the worker has merged the visitor's lead into the user.

The app is built with ``create_app`` (its in-process worker included) and served by uvicorn in a thread
on a free loopback port; client threads use httpx. Only the benchmarks add ``POST /bench/constant``
(``bench_app``, also served by ``bench.load`` in a process of its own).
"""

from __future__ import annotations

import random
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, insert, select

from bench.common import Result, fresh_database
from contactmerge.api.app import create_app
from contactmerge.domain.identity import user_hash
from contactmerge.domain.ids import new_id
from contactmerge.services import workspaces
from contactmerge.settings import Settings
from contactmerge.storage.db import make_sessionmaker, transaction
from contactmerge.storage.tables import Contact, Merge, Session, Workspace

CONTACTS = 100_000
CLIENTS = 4
REQUESTS_PER_CLIENT = 500
WARMUP_PER_CLIENT = 25
LOGINS_PER_CLIENT = 50
POLL_INTERVAL = 0.002
STAMP = 1_700_000_000


def seed_visitors(
    engine: Engine,
    workspace_id: str,
    count: int,
    roles: Sequence[str] = ("user", "lead", "visitor", "visitor"),
) -> list[str]:
    """``count`` contacts, their roles taken from ``roles`` in turn (by default a quarter users, a quarter
    leads, half visitors; users and leads have an email), each with a live session."""
    contacts: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    for i in range(count):
        role = roles[i % len(roles)]
        contact_id = new_id()
        contacts.append(
            {
                "workspace_id": workspace_id,
                "id": contact_id,
                "role": role,
                "external_id": f"u{i}" if role == "user" else None,
                "email": f"c{i}@example.com" if role != "visitor" else None,
                "email_normalized": f"c{i}@example.com" if role != "visitor" else None,
                "custom_attributes": {"plan": "free"} if role == "user" else {},
                "unsubscribed_from_emails": False,
                "archived": False,
                "email_verified": role == "user",
                "last_seen_at": STAMP + i,
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        )
        sessions.append(
            {
                "workspace_id": workspace_id,
                "id": f"bench-session-{i:08d}",
                "contact_id": contact_id,
                "origin_contact_id": contact_id,
                "logged_in_contact_id": contact_id if role == "user" else None,
                "created_at": STAMP,
                "last_seen_at": STAMP + i,
            }
        )
    with engine.begin() as connection:
        for table, rows in ((Contact, contacts), (Session, sessions)):
            for start in range(0, len(rows), 5_000):
                connection.execute(insert(table), rows[start : start + 5_000])
    if engine.dialect.name == "postgresql":  # fresh statistics, as after any bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    return [str(s["id"]) for s in sessions]


def new_workspace(engine: Engine) -> Workspace:
    with transaction(make_sessionmaker(engine)) as db:
        return workspaces.create_workspace(db, "bench").workspace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_app(settings: Settings) -> FastAPI:
    """The real app (in-process worker on) plus ``POST /bench/constant``: a sync route answering a constant,
    so it pays the same middleware and thread-pool hop as the ping and nothing else."""
    app = create_app(settings)

    def constant() -> dict[str, Any]:
        return {"type": "messenger.session", "anonymous_id": "constant", "logged_in": False}

    app.add_api_route("/bench/constant", constant, methods=["POST"])
    return app


@contextmanager
def serving(engine: Engine) -> Iterator[str]:
    """``bench_app`` on a free port, in a thread of this process; its base URL."""
    app = bench_app(Settings(database_url=engine.url.render_as_string(hide_password=False)))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the bench server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def in_threads(work: Callable[[int], list[float]]) -> tuple[list[float], float]:
    """Run ``work(client_number)`` in CLIENTS threads at once; all their samples and the wall time."""
    samples: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            samples[n] = work(n)
        except BaseException as error:  # surfaced below, so a failed client never looks fast
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return [s for per_client in samples for s in per_client], wall


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def hammer(base_url: str, path: str, bodies: Callable[[random.Random], dict[str, Any]]) -> dict[str, float]:
    """REQUESTS_PER_CLIENT requests from each client thread (after a warm-up): rate and latency."""

    def client(n: int) -> list[float]:
        rng = random.Random(n)
        latencies = []
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for i in range(WARMUP_PER_CLIENT + REQUESTS_PER_CLIENT):
                body = bodies(rng)
                start = time.perf_counter()
                response = http.post(path, json=body)
                elapsed = time.perf_counter() - start
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
                if i >= WARMUP_PER_CLIENT:
                    latencies.append(elapsed)
        return latencies

    latencies, wall = in_threads(client)
    return {
        "per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def run_ping(backend: str) -> Result:
    with fresh_database(backend) as engine:
        workspace = new_workspace(engine)
        anonymous_ids = seed_visitors(engine, workspace.id, CONTACTS)
        with serving(engine) as base_url:

            def returning(rng: random.Random) -> dict[str, Any]:
                return {
                    "app_id": workspace.app_id,
                    "anonymous_id": rng.choice(anonymous_ids),
                    "page_url": "https://example.com/pricing",
                }

            bare = hammer(base_url, "/bench/constant", returning)
            ping = hammer(base_url, "/messenger/ping", returning)
    return Result(
        "messenger ping",
        backend,
        {
            "contacts": CONTACTS,
            "requests": CLIENTS * REQUESTS_PER_CLIENT,
            "ping_per_s": ping["per_s"],
            "ping_p50_ms": ping["p50_ms"],
            "ping_p99_ms": ping["p99_ms"],
            "bare_per_s": bare["per_s"],
            "bare_p50_ms": bare["p50_ms"],
            "bare_p99_ms": bare["p99_ms"],
            "ratio_ping_to_bare": ping["per_s"] / bare["per_s"],
        },
        f"returning visitors' pings (random sessions of {CONTACTS:,}) from {CLIENTS} client threads, "
        "against POST /bench/constant on the same server (goal: ratio >= 0.5)",
    )


def run_login(backend: str) -> Result:
    with fresh_database(backend) as engine:
        workspace = new_workspace(engine)
        seed_visitors(engine, workspace.id, CONTACTS)
        sessions = make_sessionmaker(engine)
        with serving(engine) as base_url:

            def merged(lead_id: str) -> bool:
                with sessions() as db:
                    found = db.scalar(
                        select(Merge.id).where(
                            Merge.workspace_id == workspace.id,
                            Merge.source_id == lead_id,
                            Merge.state == "applied",
                        )
                    )
                return found is not None

            def visitor(n: int) -> list[float]:
                latencies = []
                with httpx.Client(base_url=base_url, timeout=30) as http:

                    def post(path: str, **body: Any) -> dict[str, Any]:
                        response = http.post(path, json={"app_id": workspace.app_id, **body})
                        if response.status_code != 200:
                            raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
                        return dict(response.json())

                    for i in range(LOGINS_PER_CLIENT):
                        visit = post("/messenger/ping")
                        post("/messenger/messages", anonymous_id=visit["anonymous_id"], body="hello")
                        external_id = f"login-{n}-{i}"
                        post(
                            "/messenger/ping",
                            anonymous_id=visit["anonymous_id"],
                            user_id=external_id,
                            user_hash=user_hash(workspace.identity_secret, external_id),
                        )
                        answered = time.perf_counter()
                        deadline = answered + 30
                        while not merged(visit["contact"]["id"]):
                            if time.perf_counter() > deadline:
                                raise RuntimeError("a lead was not merged within 30 s of its login")
                            time.sleep(POLL_INTERVAL)
                        latencies.append(time.perf_counter() - answered)
                return latencies

            latencies, _ = in_threads(visitor)
    return Result(
        "login to merged",
        backend,
        {
            "logins": len(latencies),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p90_ms": percentile(latencies, 90) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000,
            "mean_ms": statistics.fmean(latencies) * 1000,
        },
        f"{CLIENTS} browsers at once, each: ping, message (a lead), login ping; time from the login "
        f"response until the merge record exists (polled every {POLL_INTERVAL * 1000:g} ms), "
        "in-process worker (goal: p99 < 1 s)",
    )

"""Brute-force limits (design §4): wrong tokens from one address, on any server of the database, lock that
address out, even with the right token, until the window ends; other addresses are not affected.

Each test's client comes from a loopback address of its own (all of 127.0.0.0/8 is on lo), so that no
test's failures block another's, nor those of the suite's shared server, whose clients use 127.0.0.1.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contactmerge.domain.identity import user_hash
from contactmerge.domain.rate_limits import Window, client_subject, window_at
from contactmerge.errors import TooManyRequests
from contactmerge.services.rate_limits import ANY_WORKSPACE, Limiter
from contactmerge.settings import Settings
from contactmerge.storage import rate_limits as repo
from contactmerge.storage.db import make_sessionmaker
from tests.conftest import Database, Server, make_teammate, make_workspace, serve
from tests.helpers import error_of

PER_ADDRESS = 3
PER_WORKSPACE = 5
WINDOW = 60
WRONG = {"Authorization": "Bearer cm_not-a-real-token"}


def limited_settings(database: Database) -> Settings:
    return Settings(
        database_url=database.url,
        in_process_worker=False,
        auth_failures_per_address=PER_ADDRESS,
        auth_failures_per_workspace=PER_WORKSPACE,
        auth_failure_window_seconds=WINDOW,
    )


@pytest.fixture(scope="module")
def limited(database: Database) -> Iterator[Server]:
    """A server with small limits on the session's database."""
    with serve(limited_settings(database), database) as running:
        yield running


def fresh_address() -> str:
    return f"127.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{2 + secrets.randbelow(253)}"


def client_from(server: Server, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=30)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rate_limited(response: httpx.Response) -> None:
    error_of(response, 429, "rate_limit_exceeded")
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW
    assert response.headers["x-ratelimit-limit"] == str(PER_ADDRESS)
    assert response.headers["x-ratelimit-remaining"] == "0"
    reset = int(response.headers["x-ratelimit-reset"])
    assert reset % WINDOW == 0 and time.time() < reset <= time.time() + WINDOW


# --- the API ------------------------------------------------------------------------------------------


def test_after_the_limit_even_the_right_token_gets_429_and_writes_nothing(
    limited: Server, database: Database
) -> None:
    keys = make_workspace(database)
    with client_from(limited, fresh_address()) as client:
        for _ in range(PER_ADDRESS - 1):
            assert client.get("/contacts", headers=WRONG).status_code == 401
        # a success does not wipe the slate: the guesser could slip one in between its misses
        assert client.get("/contacts", headers=bearer(keys.token)).status_code == 200
        assert client.get("/contacts", headers=WRONG).status_code == 401
        blocked = client.post(
            "/contacts", headers=bearer(keys.token), json={"role": "user", "email": "ada@example.com"}
        )
        assert_rate_limited(blocked)
        assert_rate_limited(client.get("/contacts", headers=WRONG))
    with client_from(limited, fresh_address()) as other:
        listed = other.get("/contacts", headers=bearer(keys.token))
    assert listed.status_code == 200 and listed.json()["total_count"] == 0


def test_another_address_is_not_blocked(limited: Server, database: Database) -> None:
    keys = make_workspace(database)
    with client_from(limited, fresh_address()) as guesser:
        for _ in range(PER_ADDRESS):
            assert guesser.get("/tags", headers=WRONG).status_code == 401
        assert_rate_limited(guesser.get("/tags", headers=bearer(keys.token)))
    with client_from(limited, fresh_address()) as neighbour:
        assert neighbour.get("/tags", headers=bearer(keys.token)).status_code == 200


def test_a_request_without_a_token_is_not_a_guess(limited: Server, database: Database) -> None:
    keys = make_workspace(database)
    with client_from(limited, fresh_address()) as client:
        for headers in [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}] * 2:
            assert client.get("/tags", headers=headers).status_code == 401
        assert client.get("/tags", headers=bearer(keys.token)).status_code == 200


def test_servers_of_one_database_share_the_count(limited: Server, database: Database) -> None:
    keys = make_workspace(database)
    address = fresh_address()
    with (
        serve(limited_settings(database), database) as second,
        client_from(limited, address) as one,
        client_from(second, address) as two,
    ):
        assert one.get("/tags", headers=WRONG).status_code == 401
        for _ in range(PER_ADDRESS - 1):
            assert two.get("/tags", headers=WRONG).status_code == 401
        assert_rate_limited(one.get("/tags", headers=bearer(keys.token)))
        assert_rate_limited(two.get("/tags", headers=bearer(keys.token)))


# --- admin sign-in ------------------------------------------------------------------------------------


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/admin/login")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found, "the sign-in form has no CSRF field"
    return client.post("/admin/login", data={"email": email, "password": password, "csrf": found.group(1)})


def test_wrong_sign_ins_block_the_address_with_a_page(limited: Server, database: Database) -> None:
    keys = make_workspace(database)
    who = make_teammate(database, keys)
    with client_from(limited, fresh_address()) as client:
        for attempt in range(PER_ADDRESS):  # wrong passwords and unknown emails count alike
            email = who.email if attempt % 2 else f"nobody{attempt}@example.com"
            assert sign_in(client, email, "not the password").status_code == 401
        blocked = sign_in(client, who.email, who.password)
        assert blocked.status_code == 429
        assert blocked.headers["content-type"].startswith("text/html")
        assert "Too many failed attempts" in blocked.text
        assert 1 <= int(blocked.headers["retry-after"]) <= WINDOW
        assert blocked.headers["x-ratelimit-remaining"] == "0"
        assert "cm_admin=" not in blocked.headers.get("set-cookie", "")
        # the API's tokens are counted apart: the sign-in form's misses leave them alone
        assert client.get("/tags", headers=bearer(keys.token)).status_code == 200
    with client_from(limited, fresh_address()) as other:
        assert sign_in(other, who.email, who.password).status_code == 303


def test_a_forged_session_cookie_counts_and_no_cookie_does_not(limited: Server, database: Database) -> None:
    who = make_teammate(database, make_workspace(database))
    address = fresh_address()
    with client_from(limited, address) as visitor:
        for _ in range(PER_ADDRESS + 2):
            assert visitor.get("/admin/duplicates").status_code == 303  # to the sign-in form
        assert sign_in(visitor, who.email, who.password).status_code == 303
    with client_from(limited, address) as forger:
        forger.cookies.set("cm_admin", "cm_not-a-real-token", path="/admin")
        for _ in range(PER_ADDRESS):
            assert forger.get("/admin/duplicates").status_code == 303
        blocked = forger.get("/admin/duplicates")
        assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
        assert blocked.headers["content-type"].startswith("text/html")
        assert int(blocked.headers["retry-after"]) >= 1


# --- the limiter on the database, its clock given -----------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the messenger ------------------------------------------------------------------------------------


def test_wrong_signatures_lock_messenger_logins_out_and_unsigned_pings_do_not_count(
    limited: Server, database: Database
) -> None:
    keys = make_workspace(database)
    ping = {"app_id": keys.app_id, "user_id": "u-1"}
    good = user_hash(keys.identity_secret, "u-1")
    with client_from(limited, fresh_address()) as client:
        for _ in range(PER_ADDRESS + 2):  # an unsigned login under enforced: refused, but guesses nothing
            assert client.post("/messenger/ping", json=ping).status_code == 403
        for bad in ["0" * 64, "é"]:  # PER_ADDRESS - 1 wrong hashes, then a wrong token
            assert client.post("/messenger/ping", json={**ping, "user_hash": bad}).status_code == 403
        assert client.post("/messenger/ping", json={**ping, "intercom_user_jwt": "a.b.c"}).status_code == 403
        blocked = client.post("/messenger/ping", json={**ping, "user_hash": good})
        assert_rate_limited(blocked)
        assert client.post("/messenger/ping", json={"app_id": keys.app_id}).status_code == 200  # anonymous
    with client_from(limited, fresh_address()) as other:
        assert other.post("/messenger/ping", json={**ping, "user_hash": good}).json()["logged_in"] is True


PAST = 1_000_000_040.5  # long gone: windows it counts in never meet the servers' real ones


def test_a_workspace_is_limited_across_addresses_and_a_window_ends(database: Database) -> None:
    clock = Clock(PAST)
    sessions = make_sessionmaker(database.engine)
    limiter = Limiter(limited_settings(database), sessions, clock)
    workspace, other = f"ws_{secrets.token_hex(4)}", f"ws_{secrets.token_hex(4)}"
    addresses = [fresh_address() for _ in range(PER_WORKSPACE)]
    for address in addresses:
        limiter.check("messenger_login", address=address, workspace_id=workspace)
        limiter.failed("messenger_login", address=address, workspace_id=workspace)
    newcomer = fresh_address()
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("messenger_login", address=newcomer, workspace_id=workspace)
    assert refused.value.limit == PER_WORKSPACE and refused.value.retry_after == 40
    assert refused.value.reset_at == 1_000_000_080
    limiter.check("messenger_login", address=newcomer, workspace_id=other)
    limiter.check("api_token", address=newcomer)

    with sessions() as db:
        assert repo.count(db, ANY_WORKSPACE, "messenger_login", addresses[0], 1_000_000_020) == 1

    clock.now = 1_000_000_080.0  # the next window
    limiter.check("messenger_login", address=newcomer, workspace_id=workspace)
    limiter.failed("messenger_login", address=newcomer, workspace_id=workspace)
    with sessions() as db:  # the first failure of a window deleted the windows before it
        assert repo.count(db, ANY_WORKSPACE, "messenger_login", addresses[0], 1_000_000_020) == 0
        assert repo.count(db, ANY_WORKSPACE, "messenger_login", newcomer, 1_000_000_080) == 1


def test_an_address_is_limited_per_scope(database: Database) -> None:
    limiter = Limiter(limited_settings(database), make_sessionmaker(database.engine), Clock(PAST))
    address = fresh_address()
    for _ in range(PER_ADDRESS):
        limiter.failed("api_token", address=address)
    with pytest.raises(TooManyRequests):
        limiter.check("api_token", address=address)
    limiter.check("admin_sign_in", address=address)


def test_failures_counted_at_once_are_all_counted(database: Database) -> None:
    limiter = Limiter(limited_settings(database), make_sessionmaker(database.engine), Clock(PAST))
    address, threads, each = fresh_address(), 8, 10

    def fail_repeatedly() -> None:
        for _ in range(each):
            limiter.failed("admin_sign_in", address=address)

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(fail_repeatedly) for _ in range(threads)]:
            done.result()
    with make_sessionmaker(database.engine)() as db:
        assert repo.count(db, ANY_WORKSPACE, "admin_sign_in", address, 1_000_000_020) == threads * each


# --- window arithmetic --------------------------------------------------------------------------------


@given(now=st.floats(min_value=0, max_value=4e9), seconds=st.integers(min_value=1, max_value=86_400))
def test_a_window_holds_its_moment_and_starts_on_a_multiple(now: float, seconds: int) -> None:
    window = window_at(now, seconds)
    assert window.start <= now < window.end == window.start + seconds
    assert window.start % seconds == 0
    assert 1 <= window.retry_after(now) <= seconds
    assert window_at(window.end, seconds) == Window(window.end, window.end + seconds)


def test_retry_after_rounds_up_and_never_says_zero() -> None:
    window = window_at(125.2, 60)
    assert window == Window(120, 180)
    assert window.retry_after(125.2) == 55
    assert window.retry_after(179.99) == 1
    assert window.retry_after(180) == 1


def test_an_ipv6_client_counts_as_its_slash_64() -> None:
    assert client_subject("2001:db8:1:2:aaaa::1") == client_subject("2001:db8:1:2:bbbb::9")
    assert client_subject("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_subject("2001:db8:1:3::1") != client_subject("2001:db8:1:2::1")
    assert client_subject("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_subject("203.0.113.7") == "203.0.113.7"
    assert client_subject(None) == "unknown"

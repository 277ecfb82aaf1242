"""Brute-force limits, the pure part (domain.rate_limits, design §4): the fixed window a moment falls in,
how long a locked-out client waits, and what a client address is counted as.

The counting itself (database, server) is tested in tests/test_rate_limits.py.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contactmerge.domain.rate_limits import Window, client_subject, window_at

# --- windows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "seconds", "window"),
    [
        (0, 60, Window(0, 60)),
        (59.999, 60, Window(0, 60)),
        (60, 60, Window(60, 120)),  # the end belongs to the next window
        (125.2, 60, Window(120, 180)),
        (1_700_000_000.5, 3600, Window(1_699_999_200, 1_700_002_800)),
        (1_700_000_000, 1, Window(1_700_000_000, 1_700_000_001)),
        (86_399, 86_400, Window(0, 86_400)),
        (-0.5, 60, Window(-60, 0)),  # floored, not truncated: a moment is never before its window's start
        (-60, 60, Window(-60, 0)),
    ],
)
def test_the_window_a_moment_falls_in(now: float, seconds: int, window: Window) -> None:
    assert window_at(now, seconds) == window


@pytest.mark.parametrize(
    ("now", "retry_after"),
    [
        (120, 60),  # at the start: the whole window
        (120.5, 60),  # rounded up: a client retrying at once after waiting would still be early
        (121, 59),
        (179, 1),
        (179.99, 1),
        (180, 1),  # at the end, and after it (clocks of two servers differ): never 0
        (185, 1),
    ],
)
def test_retry_after_is_the_whole_seconds_to_the_end_and_never_zero(now: float, retry_after: int) -> None:
    assert Window(120, 180).retry_after(now) == retry_after


@given(now=st.floats(min_value=-4e9, max_value=4e9), seconds=st.integers(min_value=1, max_value=86_400))
def test_every_moment_is_in_one_window_and_its_retry_after_reaches_the_end(now: float, seconds: int) -> None:
    window = window_at(now, seconds)
    assert window.start <= now < window.end == window.start + seconds
    assert window.start % seconds == 0
    wait = window.retry_after(now)
    assert 1 <= wait <= seconds
    assert now + wait >= window.end  # waiting that long is enough
    assert wait == 1 or now + wait - 1 < window.end  # and one second less would not be
    assert window_at(window.end, seconds) == Window(window.end, window.end + seconds)


# --- client addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("0.0.0.0", "0.0.0.0"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket: itself
        ("::ffff:cb00:7107", "203.0.113.7"),
        # an IPv6 client is its /64: one home or server, whatever address of it it picks
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "2001:db8:1:2::/64"),
        ("2001:DB8:1:3:ffff:ffff:ffff:ffff", "2001:db8:1:3::/64"),
        ("2001:db8:1:2:8000::", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        # anything else as given: a Unix socket's name, a name the proxy sent
        ("/run/contactmerge.sock", "/run/contactmerge.sock"),
        ("testclient", "testclient"),
        ("203.0.113.7:8000", "203.0.113.7:8000"),
        # no address at all
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_what_a_client_address_counts_as(host: str | None, subject: str) -> None:
    assert client_subject(host) == subject


@pytest.mark.parametrize("length", [254, 255, 256, 300, 10_000])
def test_a_long_host_counts_as_its_first_255_characters(length: int) -> None:
    host = "".join(chr(ord("a") + i % 26) for i in range(length))
    assert client_subject(host) == host[:255]
    assert len(client_subject(host)) == min(length, 255)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_an_ipv4_client_is_itself_however_it_reaches_the_server(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    assert client_subject(str(address)) == str(address)
    assert client_subject(str(ipaddress.IPv6Address((0xFFFF << 32) | number))) == str(address)


def mapped(number: int) -> bool:
    """An IPv4-mapped IPv6 address (``::ffff:0:0/96``): counted as its IPv4 address instead."""
    return number >> 32 == 0xFFFF


@given(st.integers(min_value=0, max_value=2**128 - 1), st.integers(min_value=0, max_value=2**64 - 1))
def test_the_addresses_of_one_slash_64_count_as_one_client_and_no_other(number: int, other_host: int) -> None:
    network = number >> 64 << 64
    sibling = network | other_host  # another address of the same /64
    neighbour = (network ^ (1 << 64)) | other_host  # the same host in the /64 next to it
    assume(not mapped(number) and not mapped(sibling) and not mapped(neighbour))
    subject = client_subject(str(ipaddress.IPv6Address(number)))
    assert subject == str(ipaddress.IPv6Network((network, 64)))
    assert client_subject(str(ipaddress.IPv6Address(sibling))) == subject
    assert client_subject(str(ipaddress.IPv6Address(neighbour))) != subject


@given(st.text(min_size=1, max_size=300))
def test_a_host_that_is_no_address_counts_as_given(host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        assert client_subject(host) == host[:255]
    else:
        assume(False)

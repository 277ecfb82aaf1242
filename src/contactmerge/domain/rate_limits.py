"""Brute-force limits (design §4): the fixed window a moment falls in, and what a client address counts as.

Pure arithmetic; the counts themselves are rows in the database, shared by every process.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

IPV6_NETWORK_BITS = 64  # one home or server gets a whole /64: counted apart, its addresses are free retries
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True)
class Window:
    start: int  # Unix seconds, a multiple of the window's length
    end: int

    def retry_after(self, now: float) -> int:
        """Whole seconds from ``now`` until the window ends; at least 1, as 0 would invite a retry at once."""
        return max(1, math.ceil(self.end - now))


def window_at(now: float, seconds: int) -> Window:
    """The fixed window of ``seconds`` holding the moment ``now``. Windows start at multiples of ``seconds``
    since the epoch, so every process serving a database agrees on them without talking to the others."""
    start = int(now // seconds) * seconds
    return Window(start, start + seconds)


def client_subject(host: str | None) -> str:
    """What a client address is counted as: an IPv4 address itself, an IPv6 address its /64 network (an
    IPv4-mapped one its IPv4 address), anything else (a Unix socket's name) as given."""
    if not host:
        return UNKNOWN_CLIENT
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:255]
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    host_bits = 128 - IPV6_NETWORK_BITS
    return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_NETWORK_BITS)))

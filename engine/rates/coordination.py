"""How the rate service and the preloader share work with other replicas: the protocols.

:mod:`engine.rates.lock` implements them over Redis; without Redis there is nothing to
share and neither is used, so this module (not that one, nor redis-py) is what the rate
service imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class FetchLockProtocol(Protocol):
    """Makes the replicas that share a quote store call a provider once between them."""

    async def run(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        shared: Callable[[], Awaitable[T | None]],
    ) -> T:
        """``fetch()`` while holding the lock for ``key``, or a peer's result.

        ``shared()`` reads what a peer has just fetched into the shared store (None while
        there is nothing new enough). It is asked before fetching, in case a peer finished
        just before the lock was taken, and while another replica holds the lock. Errors
        of ``fetch()`` propagate.
        """
        ...


class LeaderLockProtocol(Protocol):
    """Elects one replica to run a singleton job (the preloader)."""

    async def hold(self) -> bool:
        """Take or renew the leadership; True while this replica leads.

        Must be called again well within the lease (the preloader calls it every loop).
        """
        ...

    async def release(self) -> None:
        """Give up the leadership now so another replica can take it over."""
        ...

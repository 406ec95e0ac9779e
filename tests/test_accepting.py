"""The acceptor of `advocacy serve --workers N` (api.accepting), in one process."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from api.accepting import ConnectionShares, TakingTurnsAcceptor


class _FailsOnce(ConnectionShares):
    """Shares whose first look at the other workers' counts raises."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def fewest_elsewhere(self, slot: int) -> int | None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a fault in the acceptor")
        return super().fewest_elsewhere(slot)


@asynccontextmanager
async def _accepting(
    shares: ConnectionShares, protocol: Callable[[], asyncio.Protocol], held: int
) -> AsyncIterator[tuple[TakingTurnsAcceptor, socket.socket]]:
    """An acceptor on a fresh listening socket of this loop, its worker holding `held`."""
    loop = asyncio.get_running_loop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    acceptor = TakingTurnsAcceptor(listener, loop, protocol, 8, shares, lambda: held)
    try:
        yield acceptor, listener
    finally:
        acceptor.stop()
        await loop.run_in_executor(None, acceptor.join)
        listener.close()


async def _served_after_a_fault() -> tuple[bool, int]:
    made: asyncio.Queue[asyncio.BaseTransport] = asyncio.Queue()

    class Taken(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.put_nowait(transport)

    shares = _FailsOnce()
    async with _accepting(shares, Taken, 0) as (acceptor, listener):
        _reader, writer = await asyncio.open_connection(*listener.getsockname())
        transport = await asyncio.wait_for(made.get(), 10)
        transport.close()
        writer.close()
        return shares.failed, acceptor.held()


def test_a_fault_in_the_acceptor_does_not_stop_it_taking_connections():
    """An error in the accepting thread is logged and the thread goes on: a worker whose
    acceptor died would take no more connections, and the others would wait for it."""
    failed, held = asyncio.run(_served_after_a_fault())
    assert failed  # the fault happened, and the connection after it was taken in
    assert held == 0  # handed over and counted by the loop: none left in between


class _CountingLooks(ConnectionShares):
    """Shares where another worker always holds fewer connections; counts the looks."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def fewest_elsewhere(self, slot: int) -> int | None:
        self.looks += 1
        return 0


async def _looks_while_idle(seconds: float) -> int:
    shares = _CountingLooks()
    async with _accepting(shares, asyncio.Protocol, 5):
        await asyncio.sleep(seconds)
    return shares.looks


def test_a_worker_over_its_share_spends_nothing_while_no_connection_waits():
    """Stepping aside is for a connection that waits: with none, the thread sleeps in the
    kernel. (It looked at the counts every millisecond, taking the GIL from its worker's
    event loop and group-commit writer each time.)"""
    assert asyncio.run(_looks_while_idle(0.5)) == 0

"""How `advocacy serve --workers N` shares its connections among the workers: each worker
takes a new connection only while it holds no more open connections than the least busy of
the others, instead of each worker's event loop taking whatever it can.

Why: with every event loop watching the shared socket, all of them wake for a new connection
and the first to run takes every connection waiting (libuv accepts until none is left). A
client that opens its keep-alive connections together (a load balancer's pool, a proxy, a
benchmark) then lands most of them on one worker, and they stay there: 52/12, 44/20, 39/25
of `wrk -c64`'s connections, measured. The busier worker's one core (its GIL) is then the
limit while the other has time to spare: with reads and then 20 s of signing on one server
(as `make bench` runs them), SQLite signing reached 1,613-1,886/s the old way and
2,034-2,237/s with the workers taking turns (3 alternating runs each; BENCHMARKS.md has the
full runs, where the machine's drift was larger than the difference).

Each worker's thread waits in poll() for a connection (the GIL let go), then publishes how
many connections its worker holds (`ConnectionShares`, memory shared by the forked workers)
and, if another holds fewer, leaves the waiting connection to it: for at most FAIR_WAIT, so
that a worker that hangs cannot keep new connections waiting. With no connection waiting it
does nothing (an earlier version looked at the counts every millisecond while over its share,
taking the GIL from its loop and writer each time).

The accepted connection is handed to the worker's event loop (`connect_accepted_socket`) and
served by uvicorn's own protocol, exactly as one its server accepted. The wait in poll() has a
timeout (ACCEPT_WAIT) so that a stopping worker stops taking connections within it: they are
left to the other workers, as uvicorn's own server leaves them when it closes.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

logger = logging.getLogger("uvicorn.error")

ACCEPT_WAIT = 0.1  # seconds: how soon a stopping worker stops taking connections
FAIR_WAIT = 0.25  # seconds: the longest a worker steps aside for a less busy one, per connection
FAIR_POLL = 0.001  # seconds between looks at the others' counts while stepping aside
SLOTS = 256  # workers that can publish their count at once (more than anyone runs)


class ConnectionShares:
    """How many connections each worker holds, in memory shared by the processes forked from
    the one that made it: a slot per worker (its pid and its count)."""

    def __init__(self) -> None:
        self._pids = multiprocessing.RawArray(ctypes.c_long, SLOTS)
        self._counts = multiprocessing.RawArray(ctypes.c_long, SLOTS)
        self._claiming = multiprocessing.Lock()

    def claim(self) -> int:
        """This process's slot: a free one, or one whose process is gone."""
        with self._claiming:
            for slot in range(SLOTS):
                pid = self._pids[slot]
                if pid == 0 or not _alive(pid):
                    self._counts[slot] = 0
                    self._pids[slot] = os.getpid()
                    return slot
        raise RuntimeError(f"more than {SLOTS} workers")

    def release(self, slot: int) -> None:
        self._pids[slot] = 0

    def publish(self, slot: int, count: int) -> None:
        self._counts[slot] = count

    def fewest_elsewhere(self, slot: int) -> int | None:
        """The fewest connections a live worker other than `slot`'s holds (None: no other)."""
        fewest: int | None = None
        for other in range(SLOTS):
            pid = self._pids[other]
            if other == slot or pid == 0 or not _alive(pid):
                continue
            count = self._counts[other]
            fewest = count if fewest is None else min(fewest, count)
        return fewest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid
        return False
    return True


class TakingTurnsAcceptor:
    """A thread that accepts connections on `sock` while its worker holds no more
    connections than the least busy other one (`shares`), and hands each to `loop`, to be
    served by `protocol_factory`'s protocol. `open_connections` is how many the worker
    serves."""

    def __init__(
        self,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: Callable[[], asyncio.Protocol],
        backlog: int,
        shares: ConnectionShares,
        open_connections: Callable[[], int],
    ) -> None:
        self.sock = sock
        self.loop = loop
        self.protocol_factory = protocol_factory
        self.shares = shares
        self.slot = shares.claim()
        self._open_connections = open_connections
        # Accepted, and taken in by the loop: each counted by one thread only (the acceptor,
        # the loop), so neither loses a step to the other; their difference is in between.
        self._accepted = 0
        self._taken_in = 0
        self._stop = threading.Event()
        # The thread waits in poll() for a connection (the GIL let go), and only then looks at
        # the counts: a worker over its share spends nothing while no connection waits.
        sock.setblocking(False)
        sock.listen(backlog)
        self._waiting = select.poll()
        self._waiting.register(sock, select.POLLIN)
        self._thread = threading.Thread(target=self._accept, name="acceptor", daemon=True)
        self._thread.start()

    def held(self) -> int:
        return self._open_connections() + self._accepted - self._taken_in

    def _connection_waiting(self, timeout: float) -> bool:
        return bool(self._waiting.poll(timeout * 1000))

    def wait_for_turn(self) -> bool:
        """Publish this worker's count; while another live worker holds fewer connections,
        leave the waiting one to it (for at most FAIR_WAIT). False if it was taken meanwhile."""
        deadline = time.monotonic() + FAIR_WAIT
        while not self._stop.is_set():
            held = self.held()
            self.shares.publish(self.slot, held)
            fewest = self.shares.fewest_elsewhere(self.slot)
            if fewest is None or held <= fewest or time.monotonic() >= deadline:
                return True
            self._stop.wait(FAIR_POLL)
            if not self._connection_waiting(0):
                return False
        return False

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._accept_one():
                    return
            except Exception:  # never let the thread die silently: the worker would take
                # no more connections, and the others would wait for it
                logger.exception("accepting connections")
                self._stop.wait(ACCEPT_WAIT)

    def _accept_one(self) -> bool:
        """Take one connection (or time out) and hand it to the loop; False once the loop is
        closed."""
        if not self._connection_waiting(ACCEPT_WAIT):
            self.shares.publish(self.slot, self.held())  # kept fresh for the others
            return True  # look at the stop sign again
        if not self.wait_for_turn():
            return True
        try:
            connection, _address = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return True  # another worker took it first
        except OSError as exc:
            # Out of descriptors, or a connection reset while queued: as uvloop's server
            # does, note it and go on taking the next.
            logger.warning("accepting a connection failed: %s", exc)
            self._stop.wait(ACCEPT_WAIT)
            return True
        connection.setblocking(False)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._accepted += 1
        try:
            self.loop.call_soon_threadsafe(self._serve, connection)
        except RuntimeError:  # the loop is closed: nobody will serve it
            connection.close()
            return False
        return True

    def _serve(self, connection: socket.socket) -> None:
        task = self.loop.create_task(
            self.loop.connect_accepted_socket(self.protocol_factory, connection)
        )
        task.add_done_callback(self._taken(connection))

    def _taken(self, connection: socket.socket) -> Callable[[asyncio.Task[Any]], None]:
        def done(task: asyncio.Task[Any]) -> None:
            # Now among the worker's open connections (uvicorn's protocol has counted it), or
            # failed and closed.
            self._taken_in += 1
            if not task.cancelled() and task.exception() is not None:
                logger.warning("serving an accepted connection failed: %r", task.exception())
                connection.close()

        return done

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join()
        self.shares.release(self.slot)


class TakingTurnsServer(uvicorn.Server):
    """uvicorn's worker server, with the shared sockets accepted by `TakingTurnsAcceptor`.
    `shares` is set in the supervisor, before the workers are forked."""

    shares: ConnectionShares | None = None
    _acceptors: list[TakingTurnsAcceptor]

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._acceptors = []
        if not sockets or self.shares is None:  # nothing shared
            await super().startup(sockets)
            return
        await super().startup(sockets=[])  # the lifespan, and no server of uvicorn's own
        config, loop, shares = self.config, asyncio.get_running_loop(), self.shares

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            # As uvicorn's startup makes it.
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )

        def open_connections() -> int:
            return len(self.server_state.connections)

        self._acceptors = [
            TakingTurnsAcceptor(
                sock, loop, create_protocol, config.backlog, shares, open_connections
            )
            for sock in sockets
        ]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop taking connections before uvicorn closes the sockets and the ones it serves.
        for acceptor in self._acceptors:
            acceptor.stop()
        loop = asyncio.get_running_loop()
        for acceptor in self._acceptors:
            await loop.run_in_executor(None, acceptor.join)
        await super().shutdown(sockets)

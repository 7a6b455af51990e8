"""Kept-alive connections spread evenly over the web processes.

Each web process listens on a socket of its own (SO_REUSEPORT, app/serve/gunicorn_conf.py), and
the kernel hands each new connection to one of them by a hash of its addresses: at random, as
far as the processes can tell. A client that keeps its connection alive stays with the process
it drew. 16 clients on 2 processes are drawn 8 and 8 only one time in five, and 10 and 6 or
worse nearly one time in two. The process that drew more then queues more requests on its one
core while the other has time to spare: in one bench.load run the draw was 11 and 5, and the
11 clients waited about twice as long as the 5.

So each process publishes how many connections it holds, in a table of memory shared by the
gunicorn master and the processes it forks. A process holding more than its share (the total,
divided evenly over the processes that publish, rounded up) answers the request it is serving
with `Connection: close`. The client opens a new connection for its next request, and the
kernel hands that one out again; a few such draws and every process holds its share. Nothing
is cut short: the close is said in a whole response, as HTTP/1.1 lets a server do (RFC 9112,
section 9.6), and clients reconnect for the next request as they do after any such answer.

A process serves several requests at once (its threads), and a connection it closes is
counted until its answer is sent: so it counts the closes it has decided and not yet made,
and closes only what it holds beyond those and its share. Without that, each of its threads
closed one for the same excess, and the connections swung from one process to the other.

A process publishes when it serves a request, so a count may be a request old, and two
processes may read each other mid-write. Either way the cost is one connection closed that
could have stayed, or one left over its share until the next request: never a request lost.

It imports nothing from the app: gunicorn's hooks call it (gunicorn_conf).
"""

from __future__ import annotations

import math
import mmap
import struct
import threading

# A slot: the process's pid (0 free, -1 claimed by the master for a process not yet forked)
# and the connections it holds.
_SLOT = struct.Struct("=qq")
_FREE, _CLAIMED = 0, -1


class ConnectionShares:
    """The table, in anonymous shared memory: made in the master before it forks, so every
    process it forks sees the same pages."""

    def __init__(self, slots: int) -> None:
        self._memory = mmap.mmap(-1, _SLOT.size * slots)  # MAP_SHARED: kept across fork

    def claim(self) -> int | None:
        """A free slot for a process about to be forked (in the master, which forks one at a
        time), or None when every slot is taken: that process then does not balance."""
        for slot, (pid, _) in enumerate(_SLOT.iter_unpack(self._memory)):
            if pid == _FREE:
                _SLOT.pack_into(self._memory, slot * _SLOT.size, _CLAIMED, 0)
                return slot
        return None

    def release(self, slot: int) -> None:
        """The process in this slot has ended (in the master)."""
        _SLOT.pack_into(self._memory, slot * _SLOT.size, _FREE, 0)

    def over_share(self, slot: int, pid: int, connections: int, closing: int = 0) -> bool:
        """Publish what this process holds, and say whether what it keeps (less the `closing`
        it has decided on: their clients come back, to one process or another, so they still
        count in the total) is more than its share."""
        _SLOT.pack_into(self._memory, slot * _SLOT.size, pid, connections)
        total = processes = 0
        for held_by, held in _SLOT.iter_unpack(self._memory):
            if held_by > 0:
                total += held
                processes += 1
        return connections - closing > math.ceil(total / processes)


class ProcessShare:
    """One web process's side of the table: its slot, and the closes it has decided and not
    yet made (its threads decide at once). Made in the master before the fork, used in the
    process forked."""

    def __init__(self, shares: ConnectionShares, slot: int | None) -> None:
        self.shares, self.slot = shares, slot
        self._closing = 0
        self._lock = threading.Lock()

    def close_one(self, pid: int, held: int) -> bool:
        """Whether the request being served should close its connection: `held` (the
        process's open connections), less the closes under way, is over its share."""
        if self.slot is None:
            return False
        with self._lock:
            if not self.shares.over_share(self.slot, pid, held, self._closing):
                return False
            self._closing += 1
            return True

    def closed(self) -> None:
        """A connection `close_one` chose has had its answer: it is no longer counted on."""
        with self._lock:
            self._closing -= 1

    def release(self) -> None:
        """The process has ended (in the master): its slot is free again."""
        if self.slot is not None:
            self.shares.release(self.slot)

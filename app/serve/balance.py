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

A process publishes when it serves a request, so a count may be a request old, and two
processes may read each other mid-write. Either way the cost is one connection closed that
could have stayed, or one left over its share until the next request: never a request lost.

It imports nothing from the app: gunicorn's hooks call it (gunicorn_conf).
"""

from __future__ import annotations

import math
import mmap
import struct

# A slot: the process's pid (0 free, -1 claimed by the master for a process not yet forked)
# and the connections it holds.
_SLOT = struct.Struct("=qq")
_FREE, _CLAIMED = 0, -1


class ConnectionShares:
    """The table, in anonymous shared memory: made in the master before it forks, so every
    process it forks sees the same pages."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
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

    def over_share(self, slot: int, pid: int, connections: int) -> bool:
        """Publish what this process holds, and say whether that is more than its share."""
        _SLOT.pack_into(self._memory, slot * _SLOT.size, pid, connections)
        total = processes = 0
        for held_by, held in _SLOT.iter_unpack(self._memory):
            if held_by > 0:
                total += held
                processes += 1
        return connections > math.ceil(total / processes)

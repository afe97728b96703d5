"""The MPI world tinygraph uses, and what it does when a rank fails: notices, liveness, deadlines.

A wait for the other ranks (`World.wait`) polls a nonblocking MPI request and, every 20 ms,
looks at a second communicator for control messages (a rank that failed or exited, a rank
asking where the others are) and at whether the peers on this machine still run; after the
deadline it asks every rank where it is and raises `DistributedError` naming the silent ones.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from typing import Any

import numpy as np

_FAIL, _QUERY, _REPLY, _ACK, _EXIT = 11, 12, 13, 14, 15  # tags on the control communicator
_GRACE = 1.0  # seconds a wait goes on after a peer is gone (its last messages may be in flight)
_FORWARD = 0.5  # seconds a failing rank gives mpiexec to forward its report before it ends the job
_NOTE = 512  # bytes of a control message


class DistributedError(RuntimeError):
    """Another rank failed, died or stopped answering, or the ranks' models differ."""


class World:
    """The MPI world tinygraph uses: two duplicates of ``COMM_WORLD`` (data and control) and what a fault needs.

    Made once by `init`; ``dist.world()`` returns it. ``timeout`` bounds every
    wait in seconds (``TINYGRAPH_DIST_TIMEOUT`` sets the default, 600).
    """

    def __init__(self, timeout: float) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.ctrl = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = float(timeout)
        self.calls = 0  # collectives entered, the same count on every rank in step
        self.failed_rank: int | None = None
        self.notified = False
        self.gone: dict = {}  # rank -> (monotonic time it was found gone, how)
        self.sends: list = []  # (request, buffer) of control messages not yet known to be sent
        self.hosts: list = []
        self.pids: list = []
        host = socket.gethostname().encode()[:64].ljust(64)
        me = np.frombuffer(host + int(os.getpid()).to_bytes(8, "little"), dtype=np.uint8).copy()
        table = np.empty((self.size, 72), dtype=np.uint8)
        if self.size > 1:
            self.wait(self.comm.Iallgather(me, table), "init (the ranks' hosts and process ids)")
        else:
            table[0] = me
        self.hosts = [bytes(row[:64]).rstrip().decode() for row in table]
        self.pids = [int.from_bytes(bytes(row[64:]), "little") for row in table]

    # ----- waiting with a deadline -------------------------------------------------------------
    def wait(self, request: Any, what: str) -> None:
        """Complete a nonblocking MPI request; on the way, watch for failed, dead or silent peers."""
        start = time.monotonic()
        next_check = start + 0.02
        spins = 0
        while not request.Test():
            spins += 1
            if spins > 100:  # spin a little, then hand the core over: a peer may need it to progress
                if spins < 5000:
                    os.sched_yield()
                else:
                    time.sleep(0.0002)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.02
                self._check(what)
                if now - start > self.timeout:
                    self._timed_out(what, now - start)

    def _check(self, what: str) -> None:
        now = time.monotonic()
        for r, (since, how) in self.gone.items():
            if now - since > _GRACE:
                self.failed_rank = r
                raise DistributedError(f"rank {r} {how}; rank {self.rank} stopped while waiting in {what}")
        MPI = self.MPI
        status = MPI.Status()
        while self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            buf = np.empty(_NOTE, dtype=np.uint8)
            self.ctrl.Recv(buf, source=src, tag=tag)
            text = bytes(buf).rstrip(b"\0").decode(errors="replace")
            if tag == _FAIL:
                self.failed_rank = src
                raise DistributedError(f"rank {src} failed ({text}); rank {self.rank} stopped while waiting in {what}")
            if tag == _QUERY:
                self._send(src, _REPLY, f"waiting in {what}")
            if tag == _EXIT:
                self.gone.setdefault(src, (now, f"exited ({text})"))
        here = socket.gethostname()
        for r, (host, pid) in enumerate(zip(self.hosts, self.pids)):
            if r != self.rank and r not in self.gone and host == here and not _alive(pid):
                self.gone[r] = (now, f"(pid {pid} on {host}) died")

    def _timed_out(self, what: str, waited: float) -> None:
        for r in range(self.size):
            if r != self.rank:
                self._send(r, _QUERY, "where are you?")
        answers: dict = {}
        deadline = time.monotonic() + 2.0
        MPI, status = self.MPI, self.MPI.Status()
        while time.monotonic() < deadline and len(answers) < self.size - 1:
            if self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                buf = np.empty(_NOTE, dtype=np.uint8)
                src, tag = status.Get_source(), status.Get_tag()
                self.ctrl.Recv(buf, source=src, tag=tag)
                text = bytes(buf).rstrip(b"\0").decode(errors="replace")
                if tag == _REPLY:
                    answers[src] = text
                elif tag == _QUERY:
                    self._send(src, _REPLY, f"waiting in {what}")
                elif tag == _FAIL:
                    self.failed_rank = src
                    raise DistributedError(f"rank {src} failed ({text}); rank {self.rank} stopped in {what}")
            else:
                time.sleep(0.005)
        silent = [r for r in range(self.size) if r != self.rank and r not in answers]
        who = ", ".join(f"rank {r}" for r in silent) or "no rank"
        seen = "; ".join(f"rank {r} is {t}" for r, t in sorted(answers.items()))
        raise DistributedError(
            f"rank {self.rank}: {what} did not complete within {waited:.0f} s (timeout {self.timeout:g} s); "
            f"{who} did not answer (stuck, in a long computation, or gone)" + (f"; {seen}" if seen else "")
        )

    def _send(self, dest: int, tag: int, text: str) -> None:
        data = text.encode()[: _NOTE - 1]
        buf = np.zeros(_NOTE, dtype=np.uint8)
        buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.sends = [(q, b) for q, b in self.sends if not q.Test()]
        self.sends.append((self.ctrl.Isend(buf, dest=dest, tag=tag), buf))  # the buffer lives until sent

    # ----- failure notices ------------------------------------------------------------------------
    def notify_failure(self, exc: BaseException) -> None:
        """Tell every other rank that this one failed with ``exc`` (once)."""
        if self.notified or self.size == 1 or isinstance(exc, DistributedError):
            return
        self.notified = True
        text = f"{type(exc).__name__}: {exc}"
        for r in range(self.size):
            if r != self.rank:
                self._send(r, _FAIL, text)

    def notify_exit(self) -> None:
        """At interpreter exit: tell the other ranks, so one still waiting for this one stops (after a grace)."""
        if self.size > 1 and not self.notified:
            for r in range(self.size):
                if r != self.rank:
                    self._send(r, _EXIT, f"its interpreter is shutting down after {self.calls} collective calls")

    def await_acks(self, grace: float) -> None:
        """Give the other ranks up to ``grace`` seconds to report the failure before the job is ended."""
        MPI, status = self.MPI, self.MPI.Status()
        acked: set = set()
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and len(acked) < self.size - 1:
            if self.ctrl.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
                buf = np.empty(_NOTE, dtype=np.uint8)
                self.ctrl.Recv(buf, source=status.Get_source(), tag=status.Get_tag())
                if status.Get_tag() == _ACK:
                    acked.add(status.Get_source())
            else:
                time.sleep(0.005)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` (on this machine) still runs; a zombie has died."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def excepthook(w: World, previous: Any, kind: type, value: BaseException, tb: Any) -> None:
    """What an uncaught exception on a rank does: print it with the rank, tell the others, end the job."""
    header = f"tinygraph.distributed: rank {w.rank} of {w.size} stopped with {kind.__name__}:\n"
    sys.stdout.flush()
    if previous is sys.__excepthook__:  # the report in one write: another rank ending the job cannot cut it short
        sys.stderr.write(header + "".join(traceback.format_exception(kind, value, tb)))
    else:
        sys.stderr.write(header)
        previous(kind, value, tb)
    sys.stderr.flush()
    if isinstance(value, DistributedError):
        if w.failed_rank is not None:
            w._send(w.failed_rank, _ACK, "reported")
    else:
        w.notify_failure(value)
        if not isinstance(value, KeyboardInterrupt):  # (Ctrl-C reaches every rank at once)
            w.await_acks(grace=3.0)
    # mpiexec forwards a rank's output on its own schedule, and ending the job kills that forwarding: without
    # this pause, a report just written was sometimes lost whole (seen in the fault tests under load)
    time.sleep(_FORWARD)
    w.MPI.COMM_WORLD.Abort(1)

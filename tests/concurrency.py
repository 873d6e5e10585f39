"""Real parallel transactions for concurrency tests: each in its own thread, hence connection.

Use them from ``django_db(transaction=True)`` tests (the writers must commit to be seen) with
the ``start_transaction`` fixture, which releases and joins every thread whatever the test does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connection, transaction

WAIT_S = 20  # far longer than any step needs; only reached when something hangs


class TransactionThread(threading.Thread):
    """Runs ``work`` in a transaction of its own connection; with ``hold``, keeps it open until released."""

    def __init__(self, work: Callable[[], object], *, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.work, self.hold = work, hold
        self.pid: int | None = None
        self.connected = threading.Event()
        self.worked = threading.Event()  # ``work`` returned; the transaction is still open if held
        self.error: BaseException | None = None
        self._release = threading.Event()

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.connected.set()
            with transaction.atomic():
                self.work()
                self.worked.set()
                if self.hold and not self._release.wait(WAIT_S):
                    raise TimeoutError("never released")
        except BaseException as error:  # re-raised in the test thread by finish()
            self.error = error
        finally:
            self.connected.set()
            self.worked.set()
            connection.close()

    def release(self) -> None:
        self._release.set()

    def finish(self) -> None:
        self.release()
        self.join(WAIT_S)
        assert not self.is_alive(), "the transaction never ended"
        if self.error is not None:
            raise self.error


def transaction_threads():
    """A generator for a fixture: start transaction threads, then release and join them all."""
    threads: list[TransactionThread] = []

    def _start(work: Callable[[], object], *, hold: bool = False) -> TransactionThread:
        thread = TransactionThread(work, hold=hold)
        threads.append(thread)
        thread.start()
        thread.connected.wait(WAIT_S)
        return thread

    yield _start
    for thread in threads:
        thread.release()
    for thread in threads:
        thread.join(WAIT_S)


def blocked_or_done(thread: TransactionThread) -> str:
    """Wait until ``thread`` waits for a lock ("blocked") or has done its work ("done")."""
    deadline = time.monotonic() + WAIT_S
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            if thread.worked.is_set():
                return "done"
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [thread.pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return "blocked"
            time.sleep(0.01)
    raise AssertionError("the transaction neither blocked nor finished")

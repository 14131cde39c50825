"""What waiting for SQLite's write lock costs when two processes write, as serve and its
dispatcher do: with the turn on the file beside the database, and with SQLite's own wait.

    python bench/sqlite_turns.py [--seconds 10] [--writers 2]

Another process (the "dispatcher") writes short transactions on `writers` threads without a
pause. This one (the "server") writes one short transaction every 5 ms and times each, from
asking for the turn to the commit. The same run is made twice, in a fresh database each time:
once as the store works (`bot/store/database.py`: a thread lock, then an flock on the
`-turn` file, at which the other process gives way, as serve's dispatcher does), once with
the flock left out, so that only SQLite's busy handler (sleeps of up to 100 ms between
tries) makes the processes take turns. Prints the count, p50, p99 and max.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from multiprocessing.synchronize import Event as StopSignal
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import database  # noqa: E402
from bot.store.database import connect, sessions  # noqa: E402

ROWS = 16
FILE_TURN = database._TurnTakingConnection._take_file_turn


def _turns(on: bool) -> None:
    """The store as it is, or with the flock left out (only SQLite's wait between processes)."""
    database._TurnTakingConnection._take_file_turn = FILE_TURN if on else lambda self: None  # type: ignore[method-assign]


def _dispatcher(url: str, file_turn: bool, writers: int, stop: StopSignal) -> None:
    _turns(file_turn)
    if file_turn:
        database.give_way()  # as serve's dispatcher process does
    factory = sessions(connect(url))

    def write(row: int) -> None:
        while not stop.is_set():
            with factory.begin() as session:
                session.execute(text("UPDATE counts SET n = n + 1 WHERE id = :id"), {"id": row})

    threads = [threading.Thread(target=write, args=(row,)) for row in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run(file_turn: bool, seconds: float, writers: int) -> list[float]:
    _turns(file_turn)
    url = f"sqlite:///{tempfile.mkdtemp()}/turns.sqlite3"
    engine = connect(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counts (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(text("INSERT INTO counts VALUES (:id, 0)"), [{"id": i} for i in range(ROWS)])
    context = multiprocessing.get_context("spawn")  # a process of its own making, as serve's child
    stop = context.Event()
    other = context.Process(target=_dispatcher, args=(url, file_turn, writers, stop))
    other.start()
    time.sleep(1.0)  # the other process is writing
    factory = sessions(engine)
    took: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        with factory.begin() as session:
            session.execute(text("UPDATE counts SET n = n + 1 WHERE id = :id"), {"id": ROWS - 1})
        took.append(time.perf_counter() - start)
        time.sleep(0.005)
    stop.set()
    other.join()
    engine.dispose()
    return sorted(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=2)
    options = parser.parse_args()
    for label, file_turn in (("SQLite's own wait only", False), ("the turn on the file", True)):
        took = run(file_turn, options.seconds, options.writers)
        at = lambda share: took[int(share * (len(took) - 1))] * 1000  # noqa: E731
        print(f"{label:24} {len(took):5} transactions in {options.seconds:.0f} s · p50 {at(.5):6.2f} ms"
              f" · p99 {at(.99):6.1f} ms · max {took[-1] * 1000:6.1f} ms"
              f" (another process writing on {options.writers} threads)")


if __name__ == "__main__":
    main()

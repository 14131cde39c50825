"""The bot as a separate process: started, killed with SIGKILL, started again, always on the
same port (its address is PUBLIC_BASE_URL, and the platforms keep sending there)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from adapters.config import Settings

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0  # a cold start imports botbuilder and slack-bolt: seconds on a busy machine
POLL_SECONDS = 0.05
SETTINGS = frozenset(Settings.model_fields)  # lower case, as the environment variables' names fold


PACKAGES = ("bot", "adapters", "tests")  # what serve and its launcher import from the repository


def snapshot(into: Path) -> Path:
    """The repository's code as it is now, copied: every restart of a soak runs the same code,
    although the working tree (shared with others) may change while the soak runs."""
    for package in PACKAGES:
        shutil.copytree(REPO / package, into / package, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
    return into


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Serve:
    """`python -m tests.soak.serve serve` (the real command line) in a working directory of its
    own, so that no .env file of the repository is read, on the code in `code` (a snapshot;
    default: the repository itself). Its output goes to `log`."""

    env: Mapping[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    code: Path = REPO
    starts: int = 0
    kills: int = 0
    down_seconds: float = 0.0  # from each kill until /healthz answered again
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "serve.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        # the bot's own settings come from `env` alone, never from the caller's environment
        inherited = {k: v for k, v in os.environ.items() if k.casefold() not in SETTINGS}
        env = {**inherited, **self.env, "PYTHONPATH": str(self.code)}
        with self.log.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} ===\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.soak.serve", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self.kills += 1

    def stop(self) -> None:
        """At the end: SIGTERM, and SIGKILL if it does not go."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    async def healthy(self, session: aiohttp.ClientSession, timeout: float = START_SECONDS) -> None:
        """Wait until GET /healthz answers 200; fail if the process died meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"serve exited with {self._process.returncode}; see {self.log}")
            try:
                async with session.get(f"{self.url}/healthz",
                                       timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"serve did not answer /healthz within {timeout:.0f} s; see {self.log}")

    def exited(self) -> bool:
        """Whether the process ended on its own (not killed by us, or not yet started again)."""
        return self._process is not None and self._process.poll() is not None

    async def restart(self, session: aiohttp.ClientSession) -> float:
        """Kill and start again, as a supervisor would at once; returns the seconds it was down."""
        began = time.monotonic()
        self.kill()
        self.start()
        await self.healthy(session)
        down = time.monotonic() - began
        self.down_seconds += down
        return down

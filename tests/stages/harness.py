"""Running the real daemon in tests: its config, its process, and waiting on what it writes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STAGES = "tests.stages"

FAST_CONFIG = """
inbox = "{inbox}"
outbox = "{outbox}"
state_dir = "{state}"
log_level = "INFO"
[watch]
poll_interval = 0.1
settle_time = {settle}
stable_polls = 2
sidecar_grace = {settle}
[runner]
max_attempts = 2
lease_seconds = {lease}
heartbeat_seconds = 0.5
stop_grace_seconds = {grace}
[limits]
min_free_disk_mb = 0.0
{extra}
"""


class Setup:
    """A daemon's folders and config file under a test's tmp_path."""

    def __init__(
        self,
        root: Path,
        settle: float = 0.3,
        grace: float = 60.0,
        extra: str = "",
        inbox: Path | None = None,
        outbox: Path | None = None,
        counters: Path | None = None,
        lease: float = 30.0,
        tail: str = "",
    ) -> None:
        """`inbox`, `outbox`, `counters`: shared with other daemons (a farm); `tail`: more config tables."""
        self.root = root
        self.inbox = inbox or root / "inbox"
        self.outbox = outbox or root / "outbox"
        self.state = root / "state"
        self.counters = counters or root / "counters"
        self.lease = lease
        self.tail = tail
        for folder in (self.inbox, self.outbox, self.state, self.counters):
            folder.mkdir(parents=True, exist_ok=True)
        self.config = root / "mocapd.toml"
        self.write_config(settle=settle, grace=grace, extra=extra)

    def write_config(self, settle: float = 0.3, grace: float = 60.0, extra: str = "") -> None:
        text = FAST_CONFIG.format(
            inbox=self.inbox,
            outbox=self.outbox,
            state=self.state,
            settle=settle,
            grace=grace,
            extra=extra,
            lease=self.lease,
        )
        text += self.tail
        self.config.write_text(text, encoding="utf-8")

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "mocapd.cli", *arguments, "--config", str(self.config)]

    def cli(self, *arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*arguments),
            cwd=REPO,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, extra_environment: dict[str, str] | None = None) -> Daemon:
        """The daemon on the test stages."""
        return Daemon(self, STAGES, extra_environment)

    def start_real(self) -> Daemon:
        """The daemon on the real pipeline (mocapd.steps)."""
        return Daemon(self, "mocapd.steps")

    def jobs(self) -> list[dict[str, Any]]:
        """The job rows, read with plain sqlite3 (no peewee state shared with the test)."""
        path = self.state / "mocapd.db"
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
            connection.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in connection.execute("SELECT * FROM jobs ORDER BY id")]
            except sqlite3.OperationalError:
                return []

    def steps(self, job_id: int) -> dict[str, str]:
        with sqlite3.connect(f"file:{self.state / 'mocapd.db'}?mode=ro", uri=True, timeout=30) as connection:
            return dict(
                connection.execute("SELECT name, status FROM steps WHERE job_id = ?", (job_id,)).fetchall()
            )

    def status(self, name: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(
                (self.outbox / name / "status.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError):
            return None
        return data


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("MOCAPD_CONFIG", None)
    for name in list(env):
        if name.startswith("MOCAPD_"):
            del env[name]
    return env


class Daemon:
    """`mocapd run` as a real process; its log in root/daemon-<n>.log."""

    count = 0

    def __init__(self, setup: Setup, stages: str, extra_environment: dict[str, str] | None = None) -> None:
        Daemon.count += 1
        self.setup = setup
        self.log_path = setup.root / f"daemon-{Daemon.count}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            setup.command("run", "--stage-package", stages),
            cwd=REPO,
            env=environment() | (extra_environment or {}),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: "watching" in self.log_text() or self.process.poll() is not None,
            30,
            "the daemon to start",
        )
        if self.process.poll() is not None:
            raise AssertionError(f"the daemon exited: {self.log_text()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"the daemon did not exit within {timeout} s; its log:\n{self.log_text()[-4000:]}"
            ) from None
        self.log.close()
        return code

    def stop(self) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGTERM)
        return self.wait()

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, what: str = "a condition", interval: float = 0.05
) -> Any:
    """Poll `condition` until it is truthy; its value. Fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def drop(path: Path, data: bytes, mtime_ns: int | None = None) -> Path:
    """Put a file into the inbox at once (hidden name, then renamed), as a finished copy."""
    staging = path.with_name(f".{path.name}.drop")
    staging.write_bytes(data)
    if mtime_ns is not None:
        os.utime(staging, ns=(mtime_ns, mtime_ns))
    os.replace(staging, path)
    return path

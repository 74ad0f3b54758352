"""The daemon's configuration: defaults < TOML file < MOCAPD_* environment < command line.

Every key is documented in etc/mocapd.toml. Relative folder paths are taken from the working directory.
Environment variables name nested keys with a double underscore: MOCAPD_LIMITS__MAX_SIZE_MB=100.
"""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mocapd import states
from mocapd.options import JOB_BACKENDS, JobOptions
from mocapd.settings import SettingsError, build

ENVIRONMENT_PREFIX = "MOCAPD_"
# Variables that are not settings: the config file's path.
ENVIRONMENT_RESERVED = ("MOCAPD_CONFIG",)
BACKENDS = ("auto", "4dhumans", "mediapipe")
# What a farm host may say it can run (and a job may ask for): the tracking backends.
CAPABILITIES = JOB_BACKENDS
STORE_SCHEMES = ("postgresql://", "postgres://")


@dataclass
class WatchSettings:
    poll_interval: float = field(default=2.0, metadata={"range": (0.05, 3600.0)})
    settle_time: float = field(default=5.0, metadata={"range": (0.0, 3600.0)})
    stable_polls: int = field(default=3, metadata={"range": (1, 100)})
    sidecar_grace: float = field(default=10.0, metadata={"range": (0.0, 3600.0)})


@dataclass
class LimitSettings:
    max_size_mb: float = field(default=500.0, metadata={"range": (0.001, 1e7)})
    max_duration_s: float = field(default=120.0, metadata={"range": (0.1, 1e6)})
    extensions: list[str] = field(default_factory=lambda: ["mp4", "mov", "avi", "mkv"])
    # Longest side, in pixels, of the frames given to the pose model; larger videos are downscaled.
    max_resolution: int = field(default=1280, metadata={"range": (64, 8192)})
    # Most frames per second the pose model runs on; the frames between are decoded but skipped, and the
    # export is resampled to the video's rate. 0: every frame.
    max_inference_fps: float = field(default=30.0, metadata={"range": (0.0, 240.0)})
    min_free_disk_mb: float = field(default=1024.0, metadata={"range": (0.0, 1e9)})


@dataclass
class RunnerSettings:
    max_attempts: int = field(default=3, metadata={"range": (1, 100)})
    lease_seconds: float = field(default=60.0, metadata={"range": (1.0, 86400.0)})
    heartbeat_seconds: float = field(default=10.0, metadata={"range": (0.1, 3600.0)})
    # On the first SIGTERM the daemon lets a running step finish for at most this long, then checkpoints.
    # systemd's TimeoutStopSec must be longer (systemd/mocapd.service).
    stop_grace_seconds: float = field(default=300.0, metadata={"range": (1.0, 86400.0)})
    # Seconds a database write waits for a lock another process holds, then the work pauses and retries.
    database_busy_s: float = field(default=10.0, metadata={"range": (0.1, 3600.0)})
    # First wait, in seconds, before work paused by the machine (full disk, read-only outbox) is tried
    # again; it doubles at each failed try, up to 10 minutes.
    pause_retry_s: float = field(default=30.0, metadata={"range": (0.01, 3600.0)})


@dataclass
class TimeoutSettings:
    """Seconds each step may run before it is stopped (and retried as a transient failure)."""

    video_upload: float = 600.0
    tracking: float = 3600.0
    track_extraction: float = 600.0
    smoothing: float = 600.0
    fbx_export: float = 900.0
    packaging: float = 300.0

    def for_step(self, step: str) -> float:
        if step not in states.STEPS:
            raise KeyError(step)
        return float(getattr(self, step))


@dataclass
class CleanupSettings:
    retention_hours: float = field(default=168.0, metadata={"range": (0.0, 1e6)})
    interval_minutes: float = field(default=60.0, metadata={"range": (0.01, 1e6)})


@dataclass
class GpuSettings:
    device: int = field(default=0, metadata={"range": (0, 63)})
    # A GPU step waits until this much GPU memory is free, for at most wait_s seconds.
    min_free_mb: float = field(default=8000.0, metadata={"range": (0.0, 1e7)})
    wait_s: float = field(default=600.0, metadata={"range": (0.0, 1e6)})


@dataclass
class BlenderSettings:
    # Path of a `blender` executable; empty: the bpy module of mocapd's own Python, in a child process.
    executable: str = ""


@dataclass
class SmoothingSettings:
    # A SmoothNet checkpoint (official or ours); empty: mocapd's own smoother.
    checkpoint: str = ""


@dataclass
class FourDHumansSettings:
    # The Python interpreter of the 4D-Humans environment and its checkout (holding track.py).
    python: str = ""
    checkout: str = ""
    # SMPL_NEUTRAL.pkl, for bone lengths from betas; empty: the standard skeleton.
    smpl_model: str = ""


@dataclass
class StoreSettings:
    # Empty: SQLite in state_dir (one host). postgresql://USER@HOST:5432/DB: one queue for a farm.
    url: str = ""
    # PostgreSQL schema for mocapd's tables; empty: the server's default search path (public).
    schema: str = ""
    # Shared folder every farm host reaches, for the job folders; empty: "spool" beside the inbox.
    spool: str = ""


@dataclass
class FarmSettings:
    # This host's name in `mocapd hosts` and in the leases; empty: the machine's host name.
    host: str = ""
    # What this host runs; a job that asks for a backend goes only to hosts that list it.
    # Empty: found at start (mediapipe, and 4dhumans when installed with a GPU).
    capabilities: list[str] = field(default_factory=list, metadata={"choices": CAPABILITIES})


@dataclass
class Config:
    inbox: str = "inbox"
    outbox: str = "outbox"
    state_dir: str = "state"
    backend: str = field(default="auto", metadata={"choices": BACKENDS})
    log_level: str = field(default="INFO", metadata={"choices": ("DEBUG", "INFO", "WARNING", "ERROR")})
    watch: WatchSettings = field(default_factory=WatchSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    cleanup: CleanupSettings = field(default_factory=CleanupSettings)
    gpu: GpuSettings = field(default_factory=GpuSettings)
    blender: BlenderSettings = field(default_factory=BlenderSettings)
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)
    fourdhumans: FourDHumansSettings = field(default_factory=FourDHumansSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    farm: FarmSettings = field(default_factory=FarmSettings)
    defaults: JobOptions = field(default_factory=JobOptions)

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox).absolute()

    @property
    def outbox_path(self) -> Path:
        return Path(self.outbox).absolute()

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).absolute()

    @property
    def farm_mode(self) -> bool:
        """Several hosts share one PostgreSQL queue (store.url is set)."""
        return bool(self.store.url)

    @property
    def spool_path(self) -> Path:
        return Path(self.store.spool).absolute() if self.store.spool else self.inbox_path.parent / "spool"

    @property
    def work_root(self) -> Path:
        """The folder holding jobs/: the shared spool in a farm (every host reaches it), else state_dir."""
        return self.spool_path if self.farm_mode else self.state_path

    @property
    def jobs_path(self) -> Path:
        """Where job folders live: work_root/jobs/<id>/."""
        return self.work_root / "jobs"

    @property
    def host_name(self) -> str:
        return self.farm.host or socket.gethostname()


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the file and key."""


def load(
    path: Path | None = None,
    environment: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """The configuration from defaults, the TOML file, MOCAPD_* variables and command-line overrides."""
    config = Config()
    try:
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    file_data = tomllib.load(handle)
            except OSError as error:
                raise ConfigError(f"cannot read config file {path}: {error}") from error
            except tomllib.TOMLDecodeError as error:
                raise ConfigError(f"{path}: not valid TOML ({error})") from error
            config = build(Config, file_data, base=config)
        env_data = environment_overrides(os.environ if environment is None else environment)
        if env_data:
            config = build(Config, env_data, base=config)
        if overrides:
            config = build(Config, nest(overrides), base=config)
        if config.store.url and not config.store.url.startswith(STORE_SCHEMES):
            raise SettingsError(f"store.url must start with postgresql:// (got {config.store.url[:30]!r})")
    except SettingsError as error:
        source = str(path) if path is not None else "configuration"
        raise ConfigError(f"{source}: {error}") from error
    return config


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'limits.max_size_mb': 1} -> {'limits': {'max_size_mb': 1}}."""
    result: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, last = dotted.split(".")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return result


def parse_value(text: str) -> Any:
    """A TOML value from text (numbers, booleans, lists); anything else is a plain string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def environment_overrides(environment: Any) -> dict[str, Any]:
    """Nested settings from MOCAPD_SECTION__KEY=value variables."""
    flat = {
        name[len(ENVIRONMENT_PREFIX) :].lower().replace("__", "."): parse_value(value)
        for name, value in environment.items()
        if name.startswith(ENVIRONMENT_PREFIX) and name not in ENVIRONMENT_RESERVED
    }
    return nest(flat)

"""A farm of hosts on one queue: what each host can run, when a host counts as gone (docs/farm.md)."""

from __future__ import annotations

from typing import Any

from mocapd.config import Config
from mocapd.service import gpu

# Seconds the farm's leader row lasts; the leader renews it with every heartbeat.
LEADER_SECONDS = 15.0
# A host whose heartbeat is this many lease lengths old is shown as gone.
GONE_AFTER_LEASES = 1.0
GONE = "gone"


def capabilities(config: Config) -> list[str]:
    """What this host runs: farm.capabilities, else the embedded model plus 4D-Humans when installed with a GPU."""
    if config.farm.capabilities:
        return sorted(set(config.farm.capabilities))
    from mocapd.backends import fourdhumans, selection

    found = [selection.EMBEDDED]
    if fourdhumans.installation_problem(config.fourdhumans) is None and gpu.query_gpus().available:
        found.append(selection.FOURDHUMANS)
    return sorted(found)


def gpu_summary() -> dict[str, Any]:
    """The GPUs in a few words, for the host's row."""
    status = gpu.query_gpus()
    return {
        "available": status.available,
        "summary": status.reason,
        "free_mb": [round(device.memory_free_mb) for device in status.devices],
    }


def host_state(state: str, heartbeat: float, now: float, lease_seconds: float) -> str:
    """The host's state as shown: its own word, or gone once its heartbeat is older than a lease."""
    return GONE if now - heartbeat > lease_seconds * GONE_AFTER_LEASES else state

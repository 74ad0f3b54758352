"""systemd's sd_notify protocol without a dependency: one datagram to $NOTIFY_SOCKET per message."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str, environment: dict[str, str] | None = None) -> bool:
    """Send e.g. "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."; False when not under systemd."""
    env = os.environ if environment is None else environment
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # a Linux abstract socket name
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sender:
            sender.sendto(message.encode("utf-8"), address)
    except OSError as error:
        log.warning("cannot notify systemd (%s): %s", message.split("=", 1)[0], error)
        return False
    return True


def watchdog_interval(environment: dict[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 messages (half of $WATCHDOG_USEC); None when no watchdog is asked for."""
    env = os.environ if environment is None else environment
    try:
        microseconds = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    watchdog_pid = env.get("WATCHDOG_PID")
    if watchdog_pid and watchdog_pid != str(os.getpid()):
        return None  # the watchdog is meant for another process (e.g. our parent)
    if microseconds <= 0:
        return None
    return microseconds / 1e6 / 2.0

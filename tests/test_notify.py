"""sd_notify over a real unix datagram socket, as systemd listens for it."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mocapd.service.notify import notify, watchdog_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(5.0)
        yield receiver, str(path)


def test_ready_reaches_the_notify_socket(listener: tuple[socket.socket, str]) -> None:
    receiver, path = listener
    assert notify("READY=1", {"NOTIFY_SOCKET": path})
    assert receiver.recv(4096) == b"READY=1"
    assert notify("STATUS=watching inbox, 2 jobs queued", {"NOTIFY_SOCKET": path})
    assert receiver.recv(4096) == b"STATUS=watching inbox, 2 jobs queued"


def test_an_abstract_socket_name_starting_with_at() -> None:
    name = f"mocapd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(5.0)
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(4096) == b"WATCHDOG=1"


def test_not_under_systemd_or_no_listener_is_false(tmp_path: Path) -> None:
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")}) is False


def test_the_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None

"""The PostgreSQL server the farm tests use: a schema of its own per test, skipped when unreachable.

The server is the development machines' (127.0.0.1:5432, trust auth, database `test`), or
TESTS_POSTGRES_URL. With TESTS_REQUIRE_POSTGRES=1 (set by .ci/run) an unreachable server fails
the tests instead of skipping them. Not MOCAPD_*: the daemon reads those as configuration keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEFAULT_URL = "postgresql://127.0.0.1:5432/test"
# Every test schema starts with this, so a crashed run's leftovers are easy to recognise and drop.
SCHEMA_PREFIX = "mocapd_test_"


def url() -> str:
    return os.environ.get("TESTS_POSTGRES_URL", DEFAULT_URL)


def required() -> bool:
    return os.environ.get("TESTS_REQUIRE_POSTGRES", "") not in ("", "0")


def unreachable_reason() -> str | None:
    """Why the server cannot be used, or None."""
    try:
        import psycopg2
    except ImportError as error:
        return f"psycopg2 is not installed ({error})"
    try:
        connection = psycopg2.connect(url(), connect_timeout=3)
    except psycopg2.Error as error:
        return f"PostgreSQL at {url()} cannot be reached ({str(error).strip().splitlines()[0]})"
    connection.close()
    return None


def require() -> None:
    """Skip the calling test (with the reason) when the server is unreachable; fail when it is required."""
    reason = unreachable_reason()
    if reason is None:
        return
    if required():
        pytest.fail(f"TESTS_REQUIRE_POSTGRES is set but {reason}")
    pytest.skip(reason)


def folder_schema(folder: Path) -> str:
    """The schema of a test folder: made up once and written in the folder, so child processes share it."""
    note = folder / "postgres-schema"
    try:
        return note.read_text().strip()
    except FileNotFoundError:
        name = new_schema()
        note.write_text(name)
        return name


def new_schema() -> str:
    return SCHEMA_PREFIX + uuid.uuid4().hex[:20]


def execute(sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on its own autocommit connection; the rows it returned."""
    import psycopg2

    connection = psycopg2.connect(url(), connect_timeout=5)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        connection.close()


def drop_schema(schema: str) -> None:
    execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def schema(name: str | None = None) -> Iterator[str]:
    """A fresh schema, dropped afterwards."""
    require()
    name = name or new_schema()
    try:
        yield name
    finally:
        try:
            drop_schema(name)
        except Exception:  # the server went away during the test: nothing to drop it on
            pass

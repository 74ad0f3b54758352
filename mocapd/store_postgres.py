"""The job store on PostgreSQL, for a farm of hosts sharing one queue (docs/farm.md).

The same contract as SQLite (mocapd/store.py); what differs: claims skip the rows other hosts are
claiming (FOR UPDATE SKIP LOCKED), publish locks the job's row, output names are chosen under an
advisory lock, and a server that cannot be reached raises StoreUnavailable (the connection is dropped
and made again at the next call) instead of leaving a broken connection behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from peewee import DatabaseError, InterfaceError, OperationalError, PostgresqlDatabase

from mocapd.store import MODELS, Store, StoreError, StoreUnavailable, add_missing_columns, database

# Seconds a connection attempt may take before the server counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
# A session left idle inside a transaction (its host frozen) is ended by the server after this long,
# so the row it locked is free again for the other hosts.
IDLE_IN_TRANSACTION_MS = 30_000
# pg_advisory_xact_lock key serialising the choice of output names ("mocapd" in ASCII).
NAMES_LOCK = 0x6D6F636170640001
APPLICATION_NAME = "mocapd"
SCHEMA_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class FarmDatabase(PostgresqlDatabase):
    """PostgresqlDatabase that drops a broken connection (server restarted, network gone) and says so."""

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        if not self.in_transaction() and not self.is_closed() and not self.is_connection_usable():
            self.drop_connection()
        try:
            return super().execute_sql(sql, params)
        except CONNECTION_ERRORS as error:
            if not self.in_transaction():
                self.drop_connection()
            if self._is_connection_error(error):
                raise StoreUnavailable(f"the job database cannot be reached: {first_line(error)}") from error
            raise

    def _is_connection_error(self, error: Exception) -> bool:
        state = self._state.conn  # type: ignore[attr-defined]
        return isinstance(error, InterfaceError) or state is None or bool(getattr(state, "closed", 1))

    def drop_connection(self) -> None:
        """Forget this thread's connection without talking to the server; the next query connects anew."""
        connection = self._state.conn  # type: ignore[attr-defined]
        self._state.reset()  # type: ignore[attr-defined]
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing to close cleanly
                pass


class PostgresStore(Store):
    """The storage contract on PostgreSQL: several hosts, one queue."""

    backend = "postgresql"
    claim_lock = " FOR UPDATE SKIP LOCKED"
    row_lock = " FOR UPDATE"
    db: FarmDatabase

    @contextmanager
    def write(self) -> Iterator[None]:
        """One transaction; a server lost during it rolls it back and raises StoreUnavailable."""
        try:
            with self.db.atomic():
                yield
        except StoreUnavailable:
            self.db.drop_connection()
            raise
        except CONNECTION_ERRORS as error:
            self.db.drop_connection()
            raise StoreUnavailable(f"the job database cannot be reached: {first_line(error)}") from error

    def lock_names(self) -> None:
        self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (NAMES_LOCK,))

    def close(self) -> None:
        if self.db.in_transaction():
            return
        try:
            super().close()
        except CONNECTION_ERRORS:
            self.db.drop_connection()


def open_postgres(url: str, schema: str = "", create: bool = True) -> PostgresStore:
    """The store at a postgresql:// URL, in `schema` (made when missing; "" : the server's default)."""
    if schema and not SCHEMA_PATTERN.match(schema):
        raise StoreError(f"store.schema {schema!r} is not a plain SQL name (letters, digits, _)")
    options = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    if schema:
        options += f" -c search_path={schema}"
    db = FarmDatabase(
        url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=APPLICATION_NAME,
        options=options,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )
    database.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        if create:
            with db.atomic():
                # One host at a time makes the schema and tables (IF NOT EXISTS alone races).
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (NAMES_LOCK + 1,))
                if schema:
                    db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                db.create_tables(MODELS, safe=True)
                add_missing_columns(db)
    except StoreUnavailable:
        raise
    except CONNECTION_ERRORS as error:
        db.drop_connection()
        raise StoreUnavailable(
            f"cannot reach the job database at {redacted(url)}: {first_line(error)}"
        ) from error
    except DatabaseError as error:
        db.drop_connection()
        raise StoreError(
            f"the job database at {redacted(url)} refused mocapd's tables: {first_line(error)} "
            "(the user needs CREATE on the database or schema)"
        ) from error
    return PostgresStore(db)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)

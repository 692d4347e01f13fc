"""Issue 18, item 6: two local stacks on one PostgreSQL and Redis (two CI jobs, or a
developer's stack and `make test-stack`) neither drop each other's databases nor share a
Redis database, and a stopped stack leaves no database behind.

The real servers of this machine; no process of the stack is started, only its storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from trainguard.local.stack import LocalStack, env_file, free_port, read_env_file

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.stack


def _databases() -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(LocalStack.pg_admin_url)
    with engine.connect() as connection:
        names = {row[0] for row in connection.execute(text("SELECT datname FROM pg_database"))}
    engine.dispose()
    return names


def _storage_of(stack: LocalStack) -> set[str]:
    stack.env = stack.loopback_env(read_env_file(env_file()), free_port(), free_port())
    stack._prepare_databases()
    return set(stack._databases)


def test_two_stacks_on_one_server_keep_apart_and_clean_up(tmp_path: Path) -> None:
    import redis

    first, second = LocalStack(tmp_path / "a"), LocalStack(tmp_path / "b")
    try:
        mine, theirs = _storage_of(first), _storage_of(second)
        assert mine and theirs and not mine & theirs
        assert mine | theirs <= _databases()
        assert first.redis_db != second.redis_db
        assert all(name.startswith(first.db_prefix) for name in mine)
    finally:
        first.stop()
    assert not mine & _databases()  # dropped at stop
    assert theirs <= _databases()  # the other stack's are untouched
    second.stop()
    assert not theirs & _databases()
    assert redis.Redis(host="127.0.0.1", port=6379, db=second.redis_db).dbsize() == 0

"""Alembic environment: runs migrations on the URL set in the configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from service.db.tables import metadata

target_metadata = metadata


def run() -> None:
    """Run the migrations online (the service always has its database at hand)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()

"""Alembic environment: Parley runs migrations on a connection it hands over itself.

`parley db upgrade` and the app's start-up open the (async) connection and pass its synchronous
face in `config.attributes["connection"]`, so one code path serves SQLite, PostgreSQL and MySQL.
"""

from alembic import context

from parley.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `parley db upgrade`, which supplies the connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

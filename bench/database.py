"""A throwaway embedded PostgreSQL with the kiosk's own schema, and bulk loading."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bench.synthetic import Vectors
from storage.database import connect, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.migrate import upgrade
from storage.vector_index import (
    DEFAULT_INDEX,
    HnswParameters,
    create_hnsw_index,
    drop_hnsw_indexes,
    index_ddl,
)

MODEL = "bench-synthetic"
# What CREATE INDEX may use: the whole graph in memory builds several times faster.
BUILD_MEMORY = "1GB"


@dataclass(frozen=True)
class IndexBuild:
    parameters: HnswParameters
    seconds: float
    megabytes: float


# As a central server would be set up (compose.yaml): the index stays in memory.
SHARED_BUFFERS = "1GB"


@contextmanager
def bench_database(folder: Path) -> Iterator[Engine]:
    """A new embedded server in ``folder`` with the schema migrated; stopped on exit."""
    server = EmbeddedServer(folder / "postgres")
    server.start()
    admin = create_engine(server.admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'"))
    admin.dispose()
    server.close()  # shared_buffers takes effect at the next start
    server = EmbeddedServer(folder / "postgres")
    url = server.start()
    try:
        ensure_database(server.admin_url(), DATABASE_NAME)
        engine = connect(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
    finally:
        server.close()


def load_gallery(engine: Engine, templates: Vectors, model: str = MODEL) -> list[uuid.UUID]:
    """Replace everyone with one synthetic person per template; no index is left."""
    people = [uuid.uuid4() for _ in range(len(templates))]
    with engine.begin() as connection:
        drop_hnsw_indexes(connection)
    remove_everyone(engine)
    raw: Any = engine.raw_connection()
    try:
        driver = raw.driver_connection
        from pgvector.psycopg import register_vector

        register_vector(driver)
        with driver.cursor() as cursor:
            with cursor.copy("COPY people (id, display_name) FROM STDIN") as copy:
                for number, person in enumerate(people):
                    copy.write_row((person, f"synthetic {number}"))
            with cursor.copy(
                "COPY face_templates (person_id, embedding, model, quality) "
                "FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["uuid", "vector", "varchar", "float8"])
                for person, template in zip(people, templates, strict=True):
                    copy.write_row((person, template, model, 0.9))
        driver.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE people, face_templates"))
    return people


def remove_everyone(engine: Engine) -> None:
    """Every person, template and consent record gone, with what refers to them."""
    with engine.begin() as connection:
        # The benchmark's own throwaway database: its decisions go with its people. The
        # logs refuse TRUNCATE by trigger (they are append-only), so the triggers are
        # off for this one transaction (a superuser's setting; the bench is one).
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("TRUNCATE face_templates, consent_records, people CASCADE"))


def build_index(engine: Engine, parameters: HnswParameters) -> IndexBuild:
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
        started = time.perf_counter()
        name = create_hnsw_index(connection, parameters)
        seconds = time.perf_counter() - started
        size = connection.scalar(
            text("SELECT pg_relation_size(CAST(:name AS regclass))"), {"name": name}
        )
    return IndexBuild(parameters, seconds, float(size or 0) / 1e6)


def restore_default_index(engine: Engine) -> None:
    """The kiosk's own index, as its migrations make it."""
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'"))
        drop_hnsw_indexes(connection)
        connection.execute(text(index_ddl(DEFAULT_INDEX)))

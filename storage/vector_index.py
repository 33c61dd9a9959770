"""The HNSW index over face templates: its parameters and the distance it serves.

The template column is ``vector(512)``; the index may hold the same vectors
as ``halfvec(512)``, half the size. A query uses an index only when its
ORDER BY names the same expression, so the index and the search query both
come from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, text

from core.inference.modelpack import EMBEDDING_DIMENSION

INDEX_NAME = "ix_face_templates_embedding_hnsw"


class Precision(StrEnum):
    SINGLE = "vector"
    HALF = "halfvec"


@dataclass(frozen=True)
class HnswParameters:
    precision: Precision
    m: int
    ef_construction: int

    def label(self) -> str:
        return f"{self.precision.value} m={self.m} ef_construction={self.ef_construction}"


# Chosen from the benchmark in PERFORMANCE.md; migration 0007 builds this index.
DEFAULT_INDEX = HnswParameters(Precision.HALF, m=32, ef_construction=400)


def index_order(precision: Precision, query: str) -> str:
    """The ORDER BY expression the index of ``precision`` serves, for SQL text."""
    if precision is Precision.HALF:
        cast = f"halfvec({EMBEDDING_DIMENSION})"
        return f"embedding::{cast} <=> CAST({query} AS {cast})"
    return f"embedding <=> {query}"


def index_ddl(parameters: HnswParameters, name: str = INDEX_NAME) -> str:
    if parameters.precision is Precision.HALF:
        target = f"((embedding::halfvec({EMBEDDING_DIMENSION})) halfvec_cosine_ops)"
    else:
        target = "(embedding vector_cosine_ops)"
    return (
        f"CREATE INDEX {name} ON face_templates USING hnsw {target} "
        f"WITH (m = {parameters.m}, ef_construction = {parameters.ef_construction})"
    )


def create_hnsw_index(connection: Connection, parameters: HnswParameters) -> str:
    name = f"ix_face_templates_embedding_{parameters.precision.value}_hnsw"
    connection.execute(text(index_ddl(parameters, name)))
    return name


def drop_hnsw_indexes(connection: Connection) -> None:
    names = connection.scalars(
        text(
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = 'face_templates' AND indexdef LIKE '%USING hnsw%'"
        )
    ).all()
    for name in names:
        connection.execute(text(f'DROP INDEX "{name}"'))

-- Run once by the PostgreSQL image on an empty data folder (compose.yaml).
-- The kiosks' first migration also asks for the extension, which needs these rights.
CREATE EXTENSION IF NOT EXISTS vector;

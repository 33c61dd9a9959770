"""PostgreSQL + pgvector persistence (SQLAlchemy 2), embedded or external."""

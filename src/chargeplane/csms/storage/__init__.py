"""Persistence: one SQLAlchemy Core metadata for every block's tables, an async engine for SQLite (the embedded
default) or PostgreSQL, and Alembic migrations applied at start."""

"""Alembic revisions of the journal, oldest first by their ``down_revision`` chain."""

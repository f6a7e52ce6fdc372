"""The journal's Alembic migrations (applied at start and by ``crypto-helper db upgrade``)."""

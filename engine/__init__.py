"""Crypto Helper's declarative flow engine."""

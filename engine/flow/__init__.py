"""Flows: YAML schema, loader and checks, named actions, and the aiogram-dialog builder.

Only :mod:`engine.flow.builder` imports aiogram; everything else here is plain Python so
``crypto-helper check`` stays fast.
"""

"""Rate providers: a plugin registry and the built-in plugins (static, rapira, apilayer, cbr,
coingecko).

This package imports neither ``engine`` nor aiogram: a provider only knows how to fetch
quotes for currency pairs and how to translate its vendor's failures into
:mod:`providers.errors`.
"""

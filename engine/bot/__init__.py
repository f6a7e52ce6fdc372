"""Telegram side: command handlers, middlewares, error handlers."""

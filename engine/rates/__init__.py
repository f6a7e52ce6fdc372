"""Rates: routing, quote math, cache, circuit breaker and preloader. Pure logic, no aiogram."""

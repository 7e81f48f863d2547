"""Internals of the Telegram channel parser; the user-facing entry points are top-level modules."""

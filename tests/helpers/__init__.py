"""Shared test helpers (stable signatures: other features' tests use them)."""

from .auth import PASSWORD, login, make_user, token_headers

__all__ = ["PASSWORD", "login", "make_user", "token_headers"]

"""Deterministic synthetic demo organization: ``generate(session_factory, patients, seed)``."""

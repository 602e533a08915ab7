"""Feedback: loop."""

"""Feedback: reviews."""

"""Feedback: complaints."""

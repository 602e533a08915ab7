"""Exceptions raised by the SEM engine."""

from __future__ import annotations


class SEMError(ValueError):
    """Base class of every error the SEM engine raises on bad input."""


class ModelSyntaxError(SEMError):
    """The model text cannot be parsed; the message names line, column and what was expected."""

    def __init__(self, message: str, line: int, column: int) -> None:
        self.line = line
        self.column = column
        super().__init__(f"line {line}, column {column}: {message}")


class ModelIdentificationError(SEMError):
    """The model is not identified (or not estimable as specified)."""


class DataError(SEMError):
    """The data cannot be used for this model (missing column, text, constant column, singular covariance)."""

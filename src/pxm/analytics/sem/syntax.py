"""Stage 1: parse lavaan model syntax into statements.

Supported: ``=~`` (measurement), ``~`` (regression), ``~~`` (variance/covariance), ``:=`` (defined
parameter), modifiers ``label*x``, ``0.5*x``, ``NA*x``; comments ``#`` and ``!``; statements separated by
newlines or ``;``; a line ending in an operator or ``+`` continues on the next line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .errors import ModelSyntaxError

OPERATORS = ("=~", "~~", ":=", "~")

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r]+)
  | (?P<op>=~|~~|:=|~|\+|\*|==|<|>|;)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<minus>-)
  | (?P<expr>[/^(),])
  | (?P<other>.)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # op, num, name, minus, other
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class Term:
    """One right-hand-side term: a variable name with optional fixed value, label or free (NA) modifier."""

    name: str
    fixed: float | None = None
    label: str | None = None
    free: bool = False  # NA* given explicitly
    line: int = 0
    col: int = 0


@dataclass(frozen=True)
class Statement:
    lhs: tuple[str, ...]
    op: str
    rhs: tuple[Term, ...]
    line: int
    col: int


@dataclass(frozen=True)
class Definition:
    name: str
    expr: str
    line: int
    col: int


@dataclass(frozen=True)
class ParsedModel:
    statements: tuple[Statement, ...]
    definitions: tuple[Definition, ...] = field(default_factory=tuple)


def _strip_comment(line: str) -> str:
    for i, ch in enumerate(line):
        if ch in "#!":
            return line[:i]
    return line


def _tokenize(text: str) -> list[list[Token]]:
    """Split into statements (lists of tokens), handling comments, ';' and continuation lines."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        for m in _TOKEN_RE.finditer(line):
            kind = m.lastgroup or "other"
            if kind == "ws":
                continue
            tok = Token(kind, m.group(), lineno, m.start() + 1)
            if kind == "op" and tok.text == ";":
                if current:
                    statements.append(current)
                current = []
                continue
            if kind == "other":
                raise ModelSyntaxError(f"unexpected character {tok.text!r}", lineno, tok.col)
            current.append(tok)
        if not current:
            continue
        last = current[-1]
        continues = last.kind == "op" and last.text in ("=~", "~~", ":=", "~", "+", "*")
        if not continues:
            statements.append(current)
            current = []
    if current:
        last = current[-1]
        raise ModelSyntaxError(f"expected a variable name after {last.text!r}, found end of model",
                               last.line, last.col + len(last.text))
    return statements


def _parse_number(tokens: list[Token], i: int) -> tuple[float, int]:
    sign = 1.0
    if tokens[i].kind == "minus":
        sign = -1.0
        i += 1
        if i >= len(tokens) or tokens[i].kind != "num":
            t = tokens[i - 1]
            raise ModelSyntaxError("expected a number after '-'", t.line, t.col + 1)
    return sign * float(tokens[i].text), i + 1


def _parse_terms(tokens: list[Token], i: int, op: Token) -> tuple[list[Term], int]:
    terms: list[Term] = []
    while True:
        if i >= len(tokens):
            t = tokens[-1]
            raise ModelSyntaxError(f"expected a variable name after {t.text!r}", t.line, t.col + len(t.text))
        start = tokens[i]
        fixed: float | None = None
        label: str | None = None
        free = False
        # modifiers: (number | NA | label) '*' ... name
        while i + 1 < len(tokens) and (
            (tokens[i + 1].kind == "op" and tokens[i + 1].text == "*")
            or (tokens[i].kind == "minus" and i + 2 < len(tokens) and tokens[i + 2].text == "*")
        ):
            t = tokens[i]
            if t.kind in ("num", "minus"):
                fixed, i = _parse_number(tokens, i)
            elif t.kind == "name" and t.text == "NA":
                free = True
                i += 1
            elif t.kind == "name":
                label = t.text
                i += 1
            else:
                raise ModelSyntaxError(f"expected a number, NA or a label before '*', found {t.text!r}",
                                       t.line, t.col)
            i += 1  # skip '*'
            if i >= len(tokens):
                s = tokens[i - 1]
                raise ModelSyntaxError("expected a variable name after '*'", s.line, s.col + 1)
        t = tokens[i]
        if t.kind == "num" and t.text == "1" and op.text == "~":
            raise ModelSyntaxError("intercepts ('~ 1') are not supported", t.line, t.col)
        if t.kind != "name":
            raise ModelSyntaxError(f"expected a variable name, found {t.text!r}", t.line, t.col)
        terms.append(Term(t.text, fixed, label, free, start.line, start.col))
        i += 1
        if i >= len(tokens):
            return terms, i
        t = tokens[i]
        if t.kind == "op" and t.text == "+":
            i += 1
            continue
        raise ModelSyntaxError(f"expected '+' or end of statement, found {t.text!r}", t.line, t.col)


def _check_expression(expr: str, tok: Token) -> None:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        col = tok.col + (exc.offset or 1) - 1
        raise ModelSyntaxError(f"invalid expression {expr!r} in defined parameter", tok.line, col) from None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.Call,
               ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ModelSyntaxError(f"unsupported element in defined parameter expression {expr!r}",
                                   tok.line, tok.col)


def parse(text: str) -> ParsedModel:
    """Parse model syntax; raise ModelSyntaxError naming line and column on failure."""
    statements: list[Statement] = []
    definitions: list[Definition] = []
    lines = text.splitlines()
    for toks in _tokenize(text):
        # find the operator
        op_idx = next((k for k, t in enumerate(toks) if t.kind == "op" and t.text in OPERATORS), None)
        first = toks[0]
        if op_idx is None:
            bad = next((t for t in toks if t.kind == "op" and t.text in ("==", "<", ">")), None)
            if bad is not None:
                raise ModelSyntaxError(f"constraints with {bad.text!r} are not supported", bad.line, bad.col)
            if len(toks) > 1:
                t = toks[1]
                raise ModelSyntaxError(f"expected an operator (=~, ~, ~~ or :=) after {first.text!r}, found "
                                       f"{t.text!r}", t.line, t.col)
            raise ModelSyntaxError(f"expected an operator (=~, ~, ~~ or :=) after {first.text!r}",
                                   first.line, first.col + len(first.text))
        op = toks[op_idx]
        if op_idx == 0:
            raise ModelSyntaxError(f"expected a variable name before {op.text!r}", op.line, op.col)
        if op.text == ":=":
            if op_idx != 1 or first.kind != "name":
                raise ModelSyntaxError("expected a single parameter name before ':='", first.line, first.col)
            if op_idx + 1 >= len(toks):
                raise ModelSyntaxError("expected an expression after ':='", op.line, op.col + 2)
            start, stop = toks[op_idx + 1], toks[-1]
            if start.line == stop.line:
                expr = lines[start.line - 1][start.col - 1: stop.col - 1 + len(stop.text)]
            else:
                expr = " ".join(t.text for t in toks[op_idx + 1:])
            _check_expression(expr, start)
            definitions.append(Definition(first.text, expr, first.line, first.col))
            continue
        lhs: list[str] = []
        for k, t in enumerate(toks[:op_idx]):
            want_name = k % 2 == 0
            if want_name and t.kind != "name":
                raise ModelSyntaxError(f"expected a variable name, found {t.text!r}", t.line, t.col)
            if not want_name and t.text != "+":
                raise ModelSyntaxError(f"expected {op.text!r} or '+', found {t.text!r}", t.line, t.col)
            if want_name:
                lhs.append(t.text)
        if toks[op_idx - 1].text == "+":
            t = toks[op_idx - 1]
            raise ModelSyntaxError(f"expected a variable name before {op.text!r}", t.line, t.col)
        if op_idx + 1 >= len(toks):
            raise ModelSyntaxError(f"expected a variable name after {op.text!r}", op.line, op.col + len(op.text))
        terms, _ = _parse_terms(toks, op_idx + 1, op)
        statements.append(Statement(tuple(lhs), op.text, tuple(terms), first.line, first.col))
    if not statements:
        raise ModelSyntaxError("the model is empty: expected at least one statement such as 'f =~ x1 + x2 + x3'",
                               1, 1)
    return ParsedModel(tuple(statements), tuple(definitions))

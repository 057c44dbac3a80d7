"""A reader for protobuf text format (what Caffe's .prototxt files are), keeping line numbers.

Only the syntax is read here: a file becomes a tree of ``Message`` objects whose fields keep the
order and line they were written at, so that whoever interprets them can say where a problem is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ._errors import SpecError


class Ident(str):
    """An unquoted word (an enum value such as MAX, or true/false), unlike a quoted string."""


@dataclass
class Message:
    line: int
    fields: list[tuple[str, Any, int]] = field(default_factory=list)  # (name, value, line)
    source: str | None = None

    def error(self, message: str, line: int | None = None, **where) -> SpecError:
        return SpecError(message, source=f"{self.source or '<prototxt>'}:{line or self.line}",
                         **where)

    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _, _ in self.fields))

    def all(self, name: str) -> list[tuple[Any, int]]:
        return [(value, line) for key, value, line in self.fields if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _, _ in self.fields)

    def line_of(self, name: str) -> int:
        found = self.all(name)
        return found[0][1] if found else self.line

    def one(self, name: str, default: Any = None) -> Any:
        """The value of a field that may be given at most once."""
        found = self.all(name)
        if len(found) > 1:
            raise self.error(f"field {name!r} is given {len(found)} times; it may be given once",
                             found[1][1])
        return found[0][0] if found else default


# A number's digits split between two runs only across its dot: `\d+\.?\d*` let a line of
# digits followed by a letter split anywhere, and the match tried every split (8 KB: 3 s).
_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+) | (?P<newline>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)[fF]?(?![\w.]))
  | (?P<ident>-?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}<>:;,\[\]])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_CLOSE = {"{": "}", "<": ">"}
MAX_DEPTH = 100  # far deeper than any network definition; deeper would exhaust the stack
_OPEN = {"}": "{", ">": "<"}


# Bytes that are not UTF-8, as the file was decoded (surrogateescape): Caffe skips them in
# comments, and nowhere else can they be read as text.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _tokens(text: str, source: str) -> Iterator[tuple[str, str, int]]:
    line, pos = 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or (m.lastgroup == "string" and _NOT_UTF8.search(m.group())):
            bad = text[pos] if m is None else m.group()
            raise SpecError("bytes that are not UTF-8 text outside a comment"
                            if _NOT_UTF8.search(bad) else f"unexpected character {bad!r}",
                            source=f"{source}:{line}")
        kind = m.lastgroup
        if kind == "newline":
            line += 1
        elif kind not in ("space", "comment"):
            yield kind, m.group(), line
        pos = m.end()
    yield "end", "end of file", line


def _number(token: str) -> int | float:
    if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", token):
        return int(token, 16)
    if re.fullmatch(r"[-+]?\d+", token):
        return int(token)
    return float(token.rstrip("fF"))


def _string(token: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


class _Parser:
    def __init__(self, text: str, source: str):
        self.source = source
        self.tokens = _tokens(text, source)
        self.current = next(self.tokens)

    def error(self, message: str) -> SpecError:
        return SpecError(message, source=f"{self.source}:{self.current[2]}")

    def advance(self) -> tuple[str, str, int]:
        token, self.current = self.current, next(self.tokens)
        return token

    def accept(self, text: str) -> bool:
        if self.current[0] == "punct" and self.current[1] == text:
            self.advance()
            return True
        return False

    def body(self, line: int, close: str | None, depth: int = 0) -> Message:
        if depth > MAX_DEPTH:
            raise SpecError(f"messages nested more than {MAX_DEPTH} levels deep",
                            source=f"{self.source}:{line}")
        msg = Message(line, source=self.source)
        while True:
            kind, text, at = self.current
            if close is None and kind == "end":
                return msg
            if close is not None and kind == "punct" and text == close:
                self.advance()
                return msg
            if kind == "end":
                raise SpecError(f"this {_OPEN[close]!r} is never closed with {close!r}",
                                source=f"{self.source}:{line}")
            if kind != "ident":
                ending = f"{close!r} or a field name" if close else "a field name"
                raise self.error(f"expected {ending}, got {text!r}")
            self.advance()
            for value in self.values(text, depth):
                msg.fields.append((text, value, at))
            self.accept(";") or self.accept(",")

    def values(self, name: str, depth: int) -> list[Any]:
        colon = self.accept(":")
        kind, text, at = self.current
        if kind == "punct" and text in _CLOSE:
            self.advance()
            return [self.body(at, _CLOSE[text], depth + 1)]
        if not colon:
            raise self.error(f"expected ':' or '{{' after {name!r}, got {text!r}")
        if self.accept("["):
            items = []
            while not self.accept("]"):
                items.extend(self.values_in_list(name, depth))
                self.accept(",")
            return items
        return [self.scalar(name)]

    def values_in_list(self, name: str, depth: int) -> list[Any]:
        kind, text, at = self.current
        if kind == "punct" and text in _CLOSE:
            self.advance()
            return [self.body(at, _CLOSE[text], depth + 1)]
        if kind == "end":
            raise self.error(f"the list of {name!r} is never closed with ']'")
        return [self.scalar(name)]

    def scalar(self, name: str) -> Any:
        kind, text, _ = self.current
        if kind == "number":
            try:
                value = _number(text)
            except ValueError:  # more digits than Python converts (4300)
                raise self.error(f"the number {text[:12]}... is too long") from None
            self.advance()
            return value
        if kind == "ident":
            self.advance()
            return Ident(text)
        if kind == "string":
            parts = []
            while self.current[0] == "string":  # adjacent strings are concatenated
                parts.append(_string(self.advance()[1]))
            return "".join(parts)
        raise self.error(f"expected a value for {name!r}, got {text!r}")


def parse(text: str, source: str | None = None) -> Message:
    """The top-level message of a protobuf text-format document; syntax errors name the line."""
    # Windows editors may start the file with a byte order mark; it is no token
    return _Parser(text.removeprefix("\ufeff"), source or "<prototxt>").body(1, None)

"""How deep a JSON document nests, measured on its text without recursion.

Decoders, validators and encoders walk JSON recursively, so a body nested a thousand levels
deep exhausts Python's stack wherever it is first walked. Request bodies are measured before
anything decodes them: within MAX_NESTING every later walk is shallow.
"""

from __future__ import annotations

import re
from itertools import accumulate

#: Arrays and objects a request body may nest, the body itself included.
MAX_NESTING = 64
NESTING_MESSAGE = f"nests arrays and objects more than {MAX_NESTING} levels deep"

_DEPTH_CHANGE = [0] * 256
_DEPTH_CHANGE[ord("[")] = _DEPTH_CHANGE[ord("{")] = 1
_DEPTH_CHANGE[ord("]")] = _DEPTH_CHANGE[ord("}")] = -1
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_TOKEN = re.compile(rb'"[^"]*"|[\[\]{}:,]')
#: Segments of the path kept in a report (`jobs[3].params`, `params.value[0]`).
PATH_SEGMENTS = 3


def _without_escapes(text: bytes) -> bytes:
    """The text with escaped backslashes and quotes removed, so every `"` delimits a string."""
    return text.replace(b"\\\\", b"").replace(b'\\"', b"")


def max_depth(text: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets in strings do not count)."""
    if text.count(b"[") + text.count(b"{") == 0:
        return 0
    # Brackets and quotes only; then strings holding no bracket (nearly all) vanish as `""`,
    # and the brackets inside the others go with the text between their quotes.
    skeleton = _without_escapes(text).translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    brackets = b"".join(skeleton.split(b'"')[::2]) if b'"' in skeleton else skeleton
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, brackets)), default=0)


def too_deep(text: bytes, limit: int = MAX_NESTING) -> str | None:
    """Where JSON text first nests deeper than `limit`: the path of the container that does
    (its first PATH_SEGMENTS segments, `body` if it has none); None if the text does not."""
    if text.count(b"[") + text.count(b"{") <= limit or max_depth(text) <= limit:
        return None
    kinds: list[bytes] = []  # the open containers, outermost first
    places: list[str | int | None] = []  # for each, the key or index being read
    last_string = b""
    for match in _TOKEN.finditer(_without_escapes(text)):
        token = match.group()
        if token[:1] == b'"':
            last_string = token
        elif token in (b"[", b"{"):
            if len(kinds) >= limit:
                return _path(places)
            kinds.append(token)
            places.append(0 if token == b"[" else None)
        elif token in (b"]", b"}"):
            if kinds:
                kinds.pop()
                places.pop()
        elif kinds and token == b":" and kinds[-1] == b"{":
            places[-1] = last_string[1:-1].decode(errors="replace")
        elif kinds and token == b"," and isinstance(index := places[-1], int):
            places[-1] = index + 1
    return "body"  # unbalanced brackets (not JSON at all), deep all the same


def _path(places: list[str | int | None]) -> str:
    if places and isinstance(places[0], int):
        return "body"  # the body is an array, not an object with fields
    segments = [f"[{p}]" if isinstance(p, int) else p for p in places if p is not None][:PATH_SEGMENTS]
    path = ""
    for segment in segments:
        path += segment if segment.startswith("[") or not path else f".{segment}"
    return path or "body"

"""The text of a PDF the workspace writes (fpdf2, an embedded TrueType font), as a reader would copy it.

Enough of PDF for fpdf2's output: each font's ToUnicode map, then every `Tj` string of the page streams
decoded through the map of the font in use. A test reads what the person would read, not the bytes.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_SHOW = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj|(ET)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _stream(body: bytes) -> bytes:
    found = _STREAM.search(body)
    if found is None:
        return b""
    data = found.group(1)
    return zlib.decompress(data) if b"/FlateDecode" in body[: found.start()] else data


def _literal(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i : i + 1] == b"\\":
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8))
                i += 1 + len(octal.group(0))
                continue
            out += _ESCAPES.get(raw[i + 1 : i + 2], raw[i + 1 : i + 2])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def text(pdf: bytes) -> str:
    """Every string the PDF shows, in order, one text object per line."""
    objects = {int(n): body for n, body in _OBJECT.findall(pdf)}
    maps: dict[bytes, dict[int, str]] = {}
    for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", pdf):
        unicode_ref = re.search(rb"/ToUnicode (\d+) 0 R", objects.get(int(number), b""))
        if unicode_ref:
            cmap = _stream(objects[int(unicode_ref.group(1))])
            maps[name] = {int(c, 16): chr(int(u, 16)) for c, u in re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]{4})>", cmap)}
    shown: list[str] = []
    for body in objects.values():
        if b"/Length" not in body or b"/Type /XObject" in body:
            continue
        try:
            content = _stream(body)
        except zlib.error:
            continue
        font: dict[int, str] = {}
        for match in _SHOW.finditer(content):
            if match.group(1):
                font = maps.get(match.group(1), {})
            elif match.group(3):
                shown.append("\n")
            elif font:
                codes = _literal(match.group(2))
                shown.append("".join(font.get(int.from_bytes(codes[i : i + 2], "big"), "") for i in range(0, len(codes) - 1, 2)))
    return re.sub(r"[ \t]*\n[\n ]*", "\n", "".join(shown))

"""Whether a GGUF file holds every tensor its header declares: the check a model without a manifest gets.

A file with a manifest is checked byte for byte (size, sha256). A user's own
GGUF has none, so at least its header is read and the end of its last tensor
must lie within the file: a copy cut short is refused before llama.cpp is asked
to load it. Only the header is read (milliseconds), never the weights.
"""

from __future__ import annotations

import struct
from pathlib import Path

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class _Header:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        (value,) = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        n = self.take("Q")
        text = self.data[self.at : self.at + n].decode("utf-8", "replace")
        self.at += n
        return text

    def value(self, kind: int):
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:  # passed over: no array's content matters here (a vocabulary is 50k strings)
            item, n = self.take("I"), self.take("Q")
            if item in _SCALARS:
                self.at += n * struct.calcsize(_SCALARS[item])
            else:
                for _ in range(n):
                    self.skip(item)
            return None
        return self.take(_SCALARS[kind])

    def skip(self, kind: int) -> None:
        if kind == _STRING:
            self.at += 8 + struct.unpack_from("<Q", self.data, self.at)[0]
        else:
            self.value(kind)


def gguf_problem(path: Path) -> str | None:
    """None when the header parses and every tensor ends within the file; else what is wrong, in words."""
    size = path.stat().st_size
    read = 4 << 20  # a header is a few MB (the vocabulary); read more only if it is longer
    while True:
        with open(path, "rb") as f:
            data = f.read(min(size, read))
        try:
            return _check(_Header(data), size)
        except (struct.error, KeyError, ValueError):
            if len(data) >= size:
                return "has a header that cannot be read (cut short, or not a GGUF model)"
            read *= 4
        except IndexError:  # a skip ran past the bytes read
            if len(data) >= size:
                return "has a header that cannot be read (cut short, or not a GGUF model)"
            read *= 4


def _check(h: _Header, size: int) -> str | None:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    if h.take("4s") != b"GGUF":
        return "is not a GGUF file"
    h.take("I")  # version
    tensors, kvs = h.take("Q"), h.take("Q")
    alignment = 32
    for _ in range(kvs):
        key, kind = h.string(), h.take("I")
        value = h.value(kind)
        if key == "general.alignment":
            alignment = int(value)
    end = 0
    for _ in range(tensors):
        h.string()
        dims = [h.take("Q") for _ in range(h.take("I"))]
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(h.take("I"))]
        offset = h.take("Q")
        count = 1
        for d in dims:
            count *= d
        end = max(end, offset + count // block * type_size)
    data_start = -(-h.at // alignment) * alignment
    if data_start + end > size:
        return f"is cut short ({size} bytes, its tensors need {data_start + end})"
    return None

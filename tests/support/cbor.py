"""A minimal CBOR codec (RFC 8949): enough for the CodePipeline job-result calls botocore sends in the
Smithy RPC v2 CBOR protocol."""

from __future__ import annotations

from typing import Any


def cbor_decode(data: bytes) -> Any:
    value, end = _cbor_item(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return value


def _cbor_item(data: bytes, pos: int) -> tuple[Any, int]:  # noqa: PLR0911, PLR0912 - one branch per major type
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], pos
        import struct

        sizes = {25: (2, ">e"), 26: (4, ">f"), 27: (8, ">d")}
        size, fmt = sizes[info]
        return struct.unpack(fmt, data[pos : pos + size])[0], pos + size
    if info == 31:  # indefinite length (strings, arrays, maps)
        items: list[Any] = []
        while data[pos] != 0xFF:
            item, pos = _cbor_item(data, pos)
            items.append(item)
        pos += 1
        if major in (2, 3):
            return (b"" if major == 2 else "").join(items), pos
        if major == 4:
            return items, pos
        return dict(zip(items[::2], items[1::2], strict=True)), pos
    if info < 24:
        length = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
    if major == 0:
        return length, pos
    if major == 1:
        return -1 - length, pos
    if major == 2:
        return data[pos : pos + length], pos + length
    if major == 3:
        return data[pos : pos + length].decode(), pos + length
    if major == 4:
        out = []
        for _ in range(length):
            item, pos = _cbor_item(data, pos)
            out.append(item)
        return out, pos
    if major == 5:
        mapping = {}
        for _ in range(length):
            key, pos = _cbor_item(data, pos)
            mapping[key], pos = _cbor_item(data, pos)
        return mapping, pos
    # major 6: a tag (e.g. a timestamp); the tagged value is what matters here
    return _cbor_item(data, pos)


def cbor_encode(value: Any) -> bytes:
    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | info]) + length.to_bytes(size, "big")
        raise ValueError("too long")

    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, bool) or value is None:
        return bytes([0xF5 if value is True else 0xF4 if value is False else 0xF6])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor_encode(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(
            cbor_encode(k) + cbor_encode(v) for k, v in value.items()
        )
    raise TypeError(f"cannot encode {type(value).__name__}")

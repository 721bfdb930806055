"""Artifacts without I/O: byte ranges as HTTP reads them, and content cut into chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.sdk import _chunks
from schemas.artifacts import ByteRange, Unsatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=900-5000", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole artifact, as HTTP allows
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=5-2", None),
    ],
)
def test_a_range_header_asks_for_one_span_or_the_whole(header: str | None, expected: ByteRange | None) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        byte_range(header, 1000)


def test_content_is_cut_into_chunks_whatever_it_comes_as(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10  # 2,560 bytes
    file = tmp_path / "data.bin"
    file.write_bytes(data)
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    for content in (data, file, pieces):
        chunks = list(_chunks(content, 1024))
        assert [len(c) for c in chunks] == [1024, 1024, 512]
        assert b"".join(chunks) == data
    assert list(_chunks(b"", 1024)) == []

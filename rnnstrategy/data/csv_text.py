"""What the first bytes of a CSV file say before pandas reads it: whether it is text at all, its
encoding when it marks one, its separator and whether its header names a column twice.

Files that are not CSV text get an error that says what they look like (an Excel workbook, a zip
archive, binary data) instead of pandas' or a decoder's guess. Excel's "Unicode text" export
(UTF-16 with a byte-order mark) is read; so are files separated by semicolons (Excel's CSV where the
decimal separator is a comma) or tabs, when their header has no comma. A header that names a column
twice is refused: pandas would rename the second copy (``close.1``) and read one of them silently.
"""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path

from rnnstrategy.errors import DataError

__all__ = ["csv_options"]

_HEAD_BYTES = 65536
_NOT_TEXT = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or a zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def csv_options(path: Path, expected: str) -> dict[str, object]:
    """``pd.read_csv`` options for ``path``: ``encoding`` (only when the file marks it: UTF-16 with a
    byte-order mark), ``sep`` and ``skipinitialspace`` (a header like ``date, open, close``).

    Raises:
        DataError: naming ``path`` and ending with ``expected``, for a file that is not CSV text
            (a workbook, an archive, binary data) or whose header names a column twice.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
    for magic, what in _NOT_TEXT:
        if head.startswith(magic):
            raise DataError(f"{path}: {what}, not a CSV text file; save or export it as CSV (UTF-8); {expected}")
    options: dict[str, object] = {"skipinitialspace": True}
    if head.startswith(_UTF16_BOMS):
        options["encoding"] = "utf-16"
        header = _first_line(head.decode("utf-16", errors="ignore"))
    elif b"\x00" in head:
        raise DataError(f"{path}: binary data (NUL bytes), not a CSV text file; {expected}")
    else:
        header = _decoded(head.split(b"\n", 1)[0])
    separator = next((sep for sep in ("\t", ";") if "," not in header and sep in header), ",")
    options["sep"] = separator
    if separator == ";":  # Excel's CSV where a comma is the decimal separator ("1090,5"); "1090.5" still reads
        options["decimal"] = ","
    names = [name.strip().strip('"').strip() for name in header.split(separator)]
    twice = [name for name, count in Counter(names).items() if name and count > 1]
    if twice:
        raise DataError(f"{path}: the header names column(s) {', '.join(twice)} more than once; keep each column "
                        f"once; {expected}")
    return options


def _first_line(text: str) -> str:
    text = text.lstrip("\ufeff")
    return text.splitlines()[0] if text.strip() else ""


def _decoded(line: bytes) -> str:
    """The header line in UTF-8 or GB18030 (as the reader tries them); empty when neither reads it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _first_line(line.decode(encoding))
        except UnicodeDecodeError:
            continue
    return ""

"""Exceptions raised by dcmlib.

Every error the library raises on bad input is a :class:`DcmviewError`.
``str(err)`` is ``"<file>: <problem>"`` (or just the problem when no file is
involved), which is exactly what ``dcmview.py`` prints after
``dcmview: error: ``.
"""

from __future__ import annotations

import os
import re
from typing import TypeAlias

__all__ = [
    "DcmviewError",
    "NotDicomError",
    "NoPixelDataError",
    "PixelDataError",
    "UnsupportedError",
    "InvalidValueError",
    "InvalidArgumentError",
    "OutputError",
    "PresentationStateError",
    "SegmentationError",
    "DcmviewWarning",
]

#: What an error names as its file: a path, or None when no file is involved.
ErrorPath: TypeAlias = "str | os.PathLike[str] | None"


class DcmviewError(Exception):
    """Base class of every error dcmlib raises on bad input or bad arguments."""

    def __init__(self, problem: str, path: ErrorPath = None):
        self.problem = str(problem)
        self.path = None if path is None else os.fspath(path)
        super().__init__(self.problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class NotDicomError(DcmviewError):
    """The path is missing, empty, truncated, or not a DICOM file or folder."""


class NoPixelDataError(DcmviewError):
    """The file is DICOM but holds no image (no Pixel Data element)."""


class PixelDataError(DcmviewError):
    """The pixel data disagree with the header or cannot be decoded."""


class UnsupportedError(DcmviewError):
    """A valid file that uses something dcmlib does not display (e.g. an unknown photometric)."""


class InvalidValueError(DcmviewError):
    """A header value no display can use: a Rescale Slope of NaN, a Bits Stored above Bits Allocated."""


class InvalidArgumentError(DcmviewError, ValueError):
    """A caller's argument is invalid: window width <= 0, unknown preset, frame or VOI out of range."""


class OutputError(DcmviewError):
    """An export target cannot be written (missing folder, unknown extension, encoder failure)."""


class SegmentationError(DcmviewError):
    """A segmentation or mask (``--seg``) that cannot be shown on the image: unreadable, another size, or a
    DICOM SEG that references none of the image's instances."""


class PresentationStateError(DcmviewError):
    """A presentation state that cannot be used: damaged, not a GSPS, or made for another image."""


class DcmviewWarning(UserWarning):
    """A recoverable problem in a file (e.g. a stored window width of 0), reported once."""


def report_error(exc: BaseException, prog: str, *, debug: bool = False, where: str | None = None) -> int:
    """The command line's error boundary: one line ``<prog>: error: ...`` on stderr, exit status 2.

    A :class:`DcmviewError` prints its own message; anything else is a bug and
    says so, naming ``where``.  ``debug`` prints the traceback (with the
    decoder's own error) above the line.
    """
    import sys
    import traceback

    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, DcmviewError):
        sys.stderr.write(f"{prog}: error: {exc}\n")
    else:
        place = f"{where}: " if where else ""
        sys.stderr.write(
            f"{prog}: error: {place}internal error ({type(exc).__name__}); run again with --debug and report it\n"
        )
    return 2


_NO_ATTRIBUTE = re.compile(r"has no attribute '(\w+)'")


def exception_text(exc: BaseException, limit: int = 160) -> str:
    """A foreign exception's message on one line, at most ``limit`` characters (for error messages).

    Python's own words are not passed on: a missing DICOM attribute (pydicom's
    ``AttributeError``) is named with its tag, and an ``AttributeError``,
    ``TypeError``, ``IndexError`` or ``KeyError`` about anything else reads
    "an element is missing or malformed".
    """
    if isinstance(exc, AttributeError):
        found = _NO_ATTRIBUTE.search(str(exc))
        named = _attribute_text(found[1]) if found else None
        if named:
            return named
    if isinstance(exc, (AttributeError, TypeError, IndexError, KeyError)):
        return "an element is missing or malformed"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attribute_text(keyword: str) -> str | None:
    """``Shared Functional Groups Sequence (5200,9229) is missing``, for a DICOM keyword; else None."""
    from pydicom.datadict import dictionary_description, tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        return None
    return f"{dictionary_description(tag)} ({tag >> 16:04X},{tag & 0xFFFF:04X}) is missing"

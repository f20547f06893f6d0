"""Writing images: encode in memory, then write atomically (a temporary name renamed into place).

One home for what ``--export``, the viewer's snapshots and ``convert`` write,
so a converted file equals ``--export`` byte for byte: the same encoder call
(``cv2.imencode`` by extension) and the same write.  A failed or interrupted
write leaves no file under the final name; the temporary file is removed on
any exception, and its name (``.dcmview-<pid>-...``) tells which process
left it if that process was killed outright.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import cv2
import numpy as np

from dcmlib.errors import ErrorPath, OutputError

__all__ = ["IMAGE_EXTENSIONS", "TEMP_PREFIX", "temp_prefix", "encode_image", "encode_npy", "write_bytes", "write_image"]

#: Extensions ``cv2.imencode`` writes for dcmview (the format follows the extension).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Every temporary output file's name starts with this.
TEMP_PREFIX = ".dcmview-"


def temp_prefix(pid: int | None = None) -> str:
    """The temporary-name prefix of process ``pid`` (default: this one): ``.dcmview-<pid>-``."""
    return f"{TEMP_PREFIX}{os.getpid() if pid is None else pid}-"


def encode_image(image: np.ndarray, suffix: str, where: ErrorPath = None) -> bytes:
    """Encode with ``cv2.imencode`` by extension (``.png``, ``.tif``, ...); 8- or 16-bit, grey or BGR."""
    try:
        ok, buf = cv2.imencode(suffix.lower(), image)
    except cv2.error:
        ok, buf = False, None
    if not ok or buf is None:
        raise OutputError("could not encode the image", where)
    return buf.tobytes()


def encode_npy(array: np.ndarray) -> bytes:
    """The ``.npy`` bytes of ``array`` (NumPy's format, version chosen by ``np.save``)."""
    bio = io.BytesIO()
    np.save(bio, np.ascontiguousarray(array), allow_pickle=False)
    return bio.getvalue()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    Raises :class:`~dcmlib.errors.OutputError` (naming ``path``) when the folder
    cannot be written; the temporary file is removed on any failure or interrupt.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = _create_temp(folder, path.suffix)
    except OSError as exc:
        raise OutputError(_os_problem(exc, folder), path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(_os_problem(exc, folder), path) from None
        raise


def _create_temp(folder: Path, suffix: str) -> tuple[int, str]:
    """A new temporary file in ``folder``, created with mode 0666 so the umask (and a default ACL)
    decide its permissions as for any file the user writes (``mkstemp`` would make it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{temp_prefix()}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(17, "no free temporary name", str(folder))


def _os_problem(exc: OSError, folder: Path) -> str:
    """An OS error on writing, in a user's words: a folder that vanished says so."""
    if isinstance(exc, FileNotFoundError) and not folder.is_dir():
        return "the output folder no longer exists"
    return exc.strerror or "cannot write"


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Encode ``image`` by ``path``'s extension and write it atomically (what ``--export`` does)."""
    path = Path(path)
    write_bytes(path, encode_image(image, path.suffix, path))

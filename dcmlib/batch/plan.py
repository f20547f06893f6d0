"""Planning a conversion: find the source files and name every output before any work starts.

- Sources are files and folders, folders searched recursively in sorted order;
  the output folder is never searched, a file named twice is converted once.
- ``mirror`` layout: the tree under the sources' root (a single folder: that
  folder; otherwise the common parent) is mirrored under DIR, ``a/b/IM1.dcm``
  becoming ``a/b/IM1.png``.
- ``series`` layout: ``<study>/<series>/<NNNN>``, the slices numbered from 1
  in the viewer's order (:func:`dcmlib.read.series.group_files`, PS3.3
  C.7.6.2.1.1); ``<study>`` and ``<series>`` are short hashes of the Study and
  Series Instance UIDs with Series Number and Modality, so no patient
  identifier reaches a path.
- ``--plane``: one job per series (:func:`plan_planes`), its outputs the
  slices of the plane, ``<folder>/<plane>/NNNN`` or ``<study>/<series>/<plane>/NNNN``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from dcmlib.batch.job import Job
from dcmlib.errors import NotDicomError
from dcmlib.read.header import text_value
from dcmlib.read.series import group_files

__all__ = ["SourceFile", "find_files", "plan_mirror", "plan_series", "plan_planes", "study_folder", "series_folder"]

#: Extensions replaced by the output's; any other name keeps its full name (``1.2.840.5`` -> ``1.2.840.5.png``).
DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima"})

SourceFile = tuple[str, str, int, int]  #: (absolute path, path relative to the root, size, mtime in ns)


def find_files(sources: Sequence[str | os.PathLike[str]], out: str) -> list[SourceFile]:
    """Every file under ``sources`` (recursively, sorted), relative to their root; never under ``out``.

    Raises :class:`~dcmlib.errors.NotDicomError` for a source that does not exist.
    """
    paths = [os.path.abspath(os.fspath(s)) for s in sources]
    for p in paths:
        if not os.path.exists(p):
            raise NotDicomError("no such file or directory", p)
    if len(paths) == 1 and os.path.isdir(paths[0]):
        root = paths[0]
    else:
        root = os.path.commonpath([os.path.dirname(p) for p in paths])
    skip = os.path.realpath(out)
    found: dict[str, SourceFile] = {}
    for p in paths:
        for path, size, mtime in _walk(p, skip):
            key = os.path.realpath(path)
            if key not in found:
                found[key] = (path, os.path.relpath(path, root), size, mtime)
    return list(found.values())


def _walk(path: str, skip: str) -> Iterator[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every regular file at or under ``path``, sorted, ``skip`` pruned."""
    if not os.path.isdir(path):
        st = os.stat(path)
        yield path, st.st_size, st.st_mtime_ns
        return
    if os.path.realpath(path) == skip:
        return
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, skip)
            elif entry.is_file():
                st = entry.stat()
                yield entry.path, st.st_size, st.st_mtime_ns
        except OSError:
            continue


def _stem(rel: str) -> str:
    base, ext = os.path.splitext(rel)
    return base if ext.lower() in DICOM_SUFFIXES else rel


def plan_mirror(files: Sequence[SourceFile], out: str) -> list[Job]:
    """One job per file, its outputs named after its path under the root (extension replaced).

    Two files that would share a name (``IM1`` and ``IM1.dcm``) keep their full
    names after the first.
    """
    used: set[str] = set()
    jobs = []
    for path, rel, size, mtime in files:
        name = _stem(rel).replace(os.sep, "/")
        if name in used:
            name = rel.replace(os.sep, "/")
        used.add(name)
        jobs.append(Job(path, out, name, size=size, mtime_ns=mtime))
    return jobs


def _short_hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def study_folder(study_uid: str) -> str:
    """``<study>``: 12 hex digits of the Study Instance UID's SHA-256 (PS3.3 C.7.2.1)."""
    return _short_hash(study_uid, 12)


def series_folder(series_uid: str, number: int | None, modality: str) -> str:
    """``<series>``: Series Number, Modality and 8 hex digits of the Series Instance UID's SHA-256."""
    mod = re.sub(r"[^A-Za-z0-9]", "", modality) or "OT"
    return f"{number if number is not None else 'x'}-{mod}-{_short_hash(series_uid, 8)}"


def plan_series(files: Sequence[SourceFile], out: str) -> list[Job]:
    """Jobs for the series layout: the files grouped into series and ordered as the viewer shows them
    (:func:`dcmlib.read.series.group_files`); a file in no series (unreadable, or of another size than its
    series' stack) keeps a mirror name under ``unsorted/`` (it is skipped or fails when converted)."""
    by_path = {f[0]: f for f in files}
    series_list, _ = group_files([f[0] for f in files])
    jobs: list[Job] = []
    placed: set[str] = set()
    for s in series_list:
        study = text_value(s.frames[0].header, "StudyInstanceUID")
        folder = f"{study_folder(study)}/{series_folder(s.uid, s.number, s.modality)}"
        number = 1
        for path, refs in itertools.groupby(s.frames, key=lambda ref: ref.source):  # a file's frames are together
            n = sum(1 for _ in refs)
            _, _, size, mtime = by_path[path]
            jobs.append(Job(path, out, folder, tuple(range(number, number + n)), size, mtime))
            placed.add(path)
            number += n
    rest = [(p, os.path.join("unsorted", rel), size, mtime) for p, rel, size, mtime in files if p not in placed]
    jobs.extend(plan_mirror(rest, out))
    return jobs


def plan_planes(files: Sequence[SourceFile], out: str, plane: str, layout: str) -> list[Job]:
    """``--plane``: one job per series (:func:`dcmlib.read.series.group_files`), its slices through ``plane``.

    The job's source is the series' folder (the common folder of its files), or
    its file when it has one (a multi-frame volume; a single slice fails as no
    volume).  Outputs: ``<folder>/<plane>/NNNN`` (mirror; ``<folder>/<series>/<plane>`` when the
    folder holds several series) or ``<study>/<series>/<plane>/NNNN`` (series layout), numbered from 1
    through the plane as ``--export --plane --frame N`` counts.  A file in no series (not DICOM,
    unreadable, no pixel data, another size than its series) is a job of its own that is
    skipped or fails with the reason.
    """
    by_path = {f[0]: f for f in files}
    series_list, _ = group_files([f[0] for f in files])
    groups = []
    placed: set[str] = set()
    for s in series_list:
        # group_files reads files: every frame's source is a path
        paths = list(dict.fromkeys(ref.source for ref in s.frames if isinstance(ref.source, str)))
        placed.update(paths)
        entries = tuple((p, by_path[p][2], by_path[p][3]) for p in paths)
        if len(paths) == 1:
            source, rel = paths[0], _stem(by_path[paths[0]][1]) + f"_{plane}"
        else:
            source = os.path.commonpath([os.path.dirname(p) for p in paths])
            first, first_rel = by_path[paths[0]][:2]
            rel = os.path.relpath(source, first[: len(first) - len(first_rel)] or os.sep)
        groups.append((s, source, rel.replace(os.sep, "/"), entries))
    per_source = Counter(source for _, source, _, _ in groups)
    jobs = []
    for s, source, rel, entries in groups:
        if layout == "series":
            study = text_value(s.frames[0].header, "StudyInstanceUID")
            name = f"{study_folder(study)}/{series_folder(s.uid, s.number, s.modality)}/{plane}"
        elif len(entries) == 1:
            name = rel
        else:
            parts = [] if rel in ("", ".") else [rel]
            if per_source[source] > 1:
                parts.append(series_folder(s.uid, s.number, s.modality))
            name = "/".join([*parts, plane])
        jobs.append(
            Job(
                source,
                out,
                name,
                size=sum(e[1] for e in entries),
                mtime_ns=max(e[2] for e in entries),
                series=s.uid,
                files=entries,
            )
        )
    for path, rel, size, mtime in files:
        if path not in placed:
            name = ("unsorted/" if layout == "series" else "") + _stem(rel).replace(os.sep, "/") + f"_{plane}"
            jobs.append(Job(path, out, name, size=size, mtime_ns=mtime, files=((path, size, mtime),)))
    return jobs

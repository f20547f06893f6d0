"""Batch conversion of DICOM files and folders to PNG, TIFF, JPEG or NumPy files, with a manifest.

>>> import dcmlib
>>> report = dcmlib.convert(["study/"], "out", preset="lung")   # doctest: +SKIP
>>> print(report.summary())                                      # doctest: +SKIP

Every written image equals ``dcmview.py FILE --export OUT --frame N`` with the
same options (lossless formats byte for byte).  The work is one pure
per-file task (:func:`~dcmlib.batch.task.convert_file`) run on a
crash-isolated local process pool (:mod:`~dcmlib.batch.pool`) or on a
dask.distributed cluster (:mod:`~dcmlib.batch.cluster`); ``DIR/manifest.csv``
records one row per output or failed source (:mod:`~dcmlib.batch.manifest`).

Modules: :mod:`.options` (what is written), :mod:`.plan` (sources and output
names), :mod:`.task`, :mod:`.planes` (``--plane``: a series per task), :mod:`.pool`, :mod:`.cluster`, :mod:`.manifest`,
:mod:`.progress`, :mod:`.run` (one run); the command line is :mod:`dcmlib.app.convert`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from dcmlib.batch.options import Channel, ConvertOptions
from dcmlib.batch.run import DEFAULT_TIMEOUT, ConvertReport, run_conversion
from dcmlib.objects.segmentation import DEFAULT_ALPHA
from dcmlib.values.presets import load_presets

__all__ = ["convert", "ConvertReport", "ConvertOptions"]


def convert(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    format: str = "png",
    window: tuple[float, float] | None = None,
    preset: str | None = None,
    voi: int | None = None,
    auto: bool = False,
    channels: str | Sequence[str | Channel] | None = None,
    mode: str | None = None,
    invert: bool = False,
    overlays: bool = True,
    shutters: bool = True,
    pstate: str | os.PathLike[str] | None = None,
    annotations: bool = True,
    frames: str | int = "all",
    layout: str = "mirror",
    plane: str | None = None,
    cache_mb: float | None = None,
    seg: str | os.PathLike[str] | None = None,
    seg_alpha: float = DEFAULT_ALPHA,
    seg_outline: bool = False,
    presets: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    dask: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> ConvertReport:
    """Convert DICOM files and folders (searched recursively) into ``out``, as ``dcmview.py convert`` does.

    ``format``: ``png``, ``jpg``, ``tif`` (the 8-bit display image, as
    ``--export``), ``png16``, ``tif16`` (16-bit values with the offset in the
    manifest) or ``npy`` (float32 modality values).  The window is
    ``window=(center, width)``, ``preset``, ``voi`` (1-based), ``auto`` (the
    viewer's percentile window) or ``channels`` (three presets or ``"C/W"``,
    one per colour channel, red first); default the file's own VOI or
    min-max.  ``overlays`` and ``shutters`` draw the overlay planes and
    apply the display shutter on the display formats, as ``--export``.  ``pstate``: a presentation state
    (``--pstate``) applied to the images it references, the others converted without it; ``annotations``
    False leaves its annotations undrawn.  ``frames``: ``"all"``, ``"first"`` or a frame number from 1.
    ``layout``: ``"mirror"`` or ``"series"``.  ``plane`` (``"axial"``, ``"coronal"``,
    ``"sagittal"``): each series reformatted, all slices of that plane, one job per series;
    ``cache_mb`` bounds each worker's frame cache, where that volume lives.  ``seg``: a
    segmentation blended at ``seg_alpha`` (contours only with ``seg_outline``) on the display formats, as
    ``--export --seg``: a DICOM SEG on the files it references, a mask on files of its size.  ``presets``: a
    presets file (TOML or Weasis XML, as ``dcmview.py --presets``) whose presets come
    first for each file's modality; by default the built-in ones only (the
    CLI reads the default presets file, as ``--export`` does).  ``workers``
    processes (default all cores) or ``dask`` (a scheduler address or
    ``"local"``).  ``resume`` finishes a previous run in ``out``;
    ``overwrite`` replaces it.  ``timeout`` seconds per file (local pool).
    ``progress`` shows a bar on stderr.

    Returns a :class:`ConvertReport`.  Raises
    :class:`~dcmlib.errors.DcmviewError` when the run cannot start (bad
    options, missing source, ``out`` unwritable or holding a previous run,
    nothing to convert), and KeyboardInterrupt after a Ctrl-C, once the
    workers are stopped (finished outputs and rows are kept).
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if isinstance(channels, str):
        channels = [c for c in channels.split(",")]
    options = ConvertOptions(
        format=format,
        window=None if window is None else (window[0], window[1]),
        preset=preset,
        voi=voi,
        auto=auto,
        channels=None if channels is None else tuple(channels),  # type: ignore[arg-type]  # names: checked() parses them
        mode=mode,
        invert=invert,
        overlays=overlays,
        shutters=shutters,
        pstate=None if pstate is None else os.fspath(pstate),
        annotations=annotations,
        frames=frames,
        layout=layout,
        plane=plane,
        cache_mb=cache_mb,
        seg=None if seg is None else os.fspath(seg),
        seg_alpha=seg_alpha,
        seg_outline=seg_outline,
        presets=None if presets is None else load_presets(presets),
    )
    report = run_conversion(
        list(sources),
        out,
        options,
        workers=workers,
        dask=dask,
        resume=resume,
        overwrite=overwrite,
        timeout=timeout,
        progress=progress,
    )
    if report.interrupted:
        raise KeyboardInterrupt(report.summary())
    return report

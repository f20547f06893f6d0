"""The ``--info`` text of an image: what the header says, without patient identifiers."""

from __future__ import annotations

from pydicom.dataset import Dataset

from dcmlib.read.header import FrameParams, Layout
from dcmlib.read.io import transfer_syntax
from dcmlib.values.lut import VoiFunction, Window

__all__ = ["summary"]


def summary(
    header: Dataset,
    lay: Layout,
    params: FrameParams | None,
    *,
    name: str,
    count: int,
    is_series: bool,
    unit: str,
    span: tuple[float, float] | None = None,
) -> str:
    """A short human summary: only attributes of the image, series and equipment, never the patient.

    ``params`` is frame 1's grey pipeline (None for colour images), ``span``
    the first and last slice positions along the normal, when known.
    """
    sop = header.get("SOPClassUID")
    lines = [
        f"{'folder' if is_series else 'file'}: {name}",
        f"modality: {header.get('Modality', '') or '(none)'}",
        f"sop class: {getattr(sop, 'name', '') or sop or '(none)'}",
        f"size: {lay.columns} x {lay.rows}",
        f"{'slices' if is_series else 'frames'}: {count}"
        + (f" ({span[0]:g} to {span[1]:g} mm along the slice normal)" if span and count > 1 else ""),
        f"photometric: {lay.photometric}" + (f" ({lay.samples} samples)" if lay.samples > 1 else ""),
        f"bits: {lay.bits_stored} stored / {lay.bits_allocated} allocated, "
        f"{'signed' if lay.signed else 'unsigned'}" + ("" if lay.keyword == "PixelData" else f", {lay.keyword}"),
    ]
    if params is not None:
        lines += _grey_lines(params, unit)
    ts = transfer_syntax(header)
    if ts is not None:
        lines.append(f"transfer syntax: {ts.name} ({ts})")
    return "\n".join(lines)


def _grey_lines(p: FrameParams, unit: str) -> list[str]:
    """Modality LUT or rescale, the stored VOIs, padding and Presentation LUT Shape (PS3.3 C.11)."""
    lines = []
    m = p.modality
    if m.lut is not None:
        lines.append(
            f"modality LUT: {len(m.lut.entries)} entries from {m.lut.first_mapped}"
            + (f" ({m.lut_explanation})" if m.lut_explanation else "")
        )
    else:
        lines.append(f"rescale: slope {m.slope:g}, intercept {m.intercept:g}" + (f" {unit}" if unit else ""))
    for i, v in enumerate(p.vois, 1):
        if isinstance(v, Window):
            fn = "" if v.function is VoiFunction.LINEAR else f" {v.function.value}"
            expl = f" ({v.explanation})" if v.explanation else ""
            lines.append(f"voi {i}: window center {v.center:g} width {v.width:g}{fn}{expl}")
        else:
            lines.append(f"voi {i}: VOI LUT {v.label}")
    if not p.vois:
        lines.append("voi: none stored (min-max)")
    lines += [f"note: {msg}" for msg in p.invalid_windows]
    if p.padding is not None:
        lines.append(f"pixel padding: {p.padding[0]:g}..{p.padding[1]:g}")
    if p.lut_shape is not None:
        lines.append(f"presentation LUT shape: {p.lut_shape.value}")
    return lines

"""dcmlib: the DICOM grayscale and colour display pipeline, exact and fast, for OpenCV.

>>> import cv2, dcmlib
>>> img = dcmlib.load("scan.dcm")                 # doctest: +SKIP
>>> cv2.imshow("CT", img.render(preset="lung"))   # doctest: +SKIP
>>> dcmlib.convert(["study/"], "out/", preset="lung")   # doctest: +SKIP
"""

try:
    import cv2 as _cv2  # noqa: F401  (every render ends in OpenCV; say how to get it before anything fails)
except ImportError as _exc:
    if _exc.name != "cv2":
        raise
    raise ImportError(
        "dcmview needs OpenCV: pip install 'dcmview[gui]' for the viewer, or 'dcmview[headless]' "
        "for export and convert only (it adds nothing where opencv-python-headless is installed)",
        name="cv2",
    ) from None

from dcmlib.batch import ConvertReport, convert
from dcmlib.displayable import DisplayImage, RenderOptions
from dcmlib.errors import (
    DcmviewError,
    DcmviewWarning,
    InvalidArgumentError,
    InvalidValueError,
    NoPixelDataError,
    NotDicomError,
    OutputError,
    PixelDataError,
    PresentationStateError,
    SegmentationError,
    UnsupportedError,
)
from dcmlib.images.image import DicomImage, load
from dcmlib.objects.pstate import PresentationState, load_pstate
from dcmlib.objects.segmentation import Segmentation, load_segmentation
from dcmlib.render.pipeline import VoiSelection
from dcmlib.values.lut import MODES, PairWindow, VoiFunction, VoiLut, Window
from dcmlib.values.presets import PRESETS, Preset, get_preset

__version__ = "0.1.0"

__all__ = [
    "load",
    "DicomImage",
    "DisplayImage",
    "RenderOptions",
    "PRESETS",
    "Preset",
    "get_preset",
    "MODES",
    "Window",
    "PairWindow",
    "VoiLut",
    "VoiFunction",
    "VoiSelection",
    "DcmviewError",
    "DcmviewWarning",
    "NotDicomError",
    "NoPixelDataError",
    "PixelDataError",
    "UnsupportedError",
    "InvalidValueError",
    "InvalidArgumentError",
    "OutputError",
    "SegmentationError",
    "load_segmentation",
    "Segmentation",
    "PresentationStateError",
    "load_pstate",
    "PresentationState",
    "convert",
    "ConvertReport",
]

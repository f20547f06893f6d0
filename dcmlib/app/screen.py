"""What a HighGUI window needs from the platform: the screen size for fitting (X11, Win32), whether this
OpenCV has windows at all, and a font folder for Qt's trackbar labels.

Nothing here reads DICOM; the viewer in ``dcmview.py`` calls these before it opens its window.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Literal

import cv2

from dcmlib.errors import DcmviewError
from dcmlib.viewer.view import DEFAULT_SCREEN

__all__ = ["FONT_DIRS", "ensure_qt_fonts", "screen_size", "check_highgui"]


FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype",
    "/usr/local/share/fonts",
)


def _has_fonts(folder: str) -> bool:
    try:
        return any(n.lower().endswith((".ttf", ".otf", ".ttc", ".pfb")) for n in os.listdir(folder))
    except OSError:
        return False


def ensure_qt_fonts() -> None:
    """Point Qt at a system font folder when the opencv-python wheel has none.

    ``import cv2`` sets QT_QPA_FONTDIR to ``cv2/qt/fonts``, which the wheels do
    not ship: Qt then draws no trackbar labels and warns on stderr.
    """
    current = os.environ.get("QT_QPA_FONTDIR")
    if current and _has_fonts(current):
        return
    for folder in FONT_DIRS:
        if _has_fonts(folder):
            os.environ["QT_QPA_FONTDIR"] = folder
            return


def _x11_screen() -> tuple[int, int] | Literal[False] | None:
    """Size of the X display's default screen; False when it cannot be opened, None when unknown."""
    import ctypes
    import ctypes.util

    lib = ctypes.util.find_library("X11")
    if not lib:
        return None
    try:
        x11 = ctypes.CDLL(lib)
    except OSError:
        return None
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
        fn.argtypes = [ctypes.c_void_p]
    for fn in (x11.XDisplayWidth, x11.XDisplayHeight):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
    display = x11.XOpenDisplay(None)
    if not display:
        return False
    try:
        screen = x11.XDefaultScreen(display)
        return int(x11.XDisplayWidth(display, screen)), int(x11.XDisplayHeight(display, screen))
    finally:
        x11.XCloseDisplay(display)


def screen_size(where: str | None = None) -> tuple[int, int]:
    """The screen size for fitting, or raise when no display can show a window (Linux/BSD X11)."""
    if sys.platform.startswith(("win", "darwin")):
        if sys.platform.startswith("win"):
            import ctypes

            user32 = ctypes.windll.user32  # type: ignore[attr-defined]  # ctypes.windll exists on Windows only
            return int(user32.GetSystemMetrics(0)), int(user32.GetSystemMetrics(1))
        return DEFAULT_SCREEN
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return DEFAULT_SCREEN
    hint = "no display available{}; use --export OUT.png to render without a window"
    if not os.environ.get("DISPLAY"):
        raise DcmviewError(hint.format(" (DISPLAY is not set)"), where)
    size = _x11_screen()
    if size is False:
        raise DcmviewError(hint.format(f" (cannot open DISPLAY {os.environ['DISPLAY']})"), where)
    return size or DEFAULT_SCREEN


def check_highgui(where: str | None = None) -> None:
    """Raise when this OpenCV was built without windows (the opencv-python-headless wheel), saying how to get them."""
    if re.search(r"^\s*GUI:\s*NONE\s*$", cv2.getBuildInformation(), re.MULTILINE):
        raise DcmviewError(
            "this OpenCV has no windows (opencv-python-headless): use --export OUT.png, or "
            "pip uninstall opencv-python-headless && pip install 'dcmview[gui]'",
            where,
        )

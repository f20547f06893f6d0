"""Key codes: what ``cv2.waitKeyEx`` returns for a key on each HighGUI back end, decoded to one symbolic
name (:class:`KeyDecoder`); and the key list ``h`` shows (:data:`HELP`).

``cv2.waitKeyEx`` returns different numbers for the same key on
different HighGUI back ends.  :data:`KEY_CODES` maps every code we know to a
symbolic name, and :class:`KeyDecoder` turns a raw code into that name:

* Qt on X11 (opencv-python's wheels): printable keys come back as *lower
  case* ASCII (``QTest::keyToAscii``), so ``P`` and ``p`` are both 0x70; the
  other keys are the X keysym (``nativeVirtualKey``): Left 0xff51, Home 0xff50,
  Page Up 0xff55, and Shift itself 0xffe1.  The decoder reads a letter as
  upper case when a Shift press came just before it (:data:`SHIFT_HOLD_S`).
  Qt platforms without native key codes return the ``Qt::Key`` enum
  (Left 0x01000012).
* GTK: the GDK keysym (Left 0xff51, ``P`` 0x50) OR-ed with the modifier state
  shifted left by 16 (Shift 0x10000, Num Lock 0x100000).
* Win32: the virtual-key code shifted left by 16 (Left 0x250000).
* Cocoa: the Unicode function-key character (Left 0xf702).
"""

from __future__ import annotations

__all__ = ["KEY_CODES", "KeyDecoder", "decode_key", "HELP", "HELP_LINES"]


#: waitKeyEx code -> symbolic key name, for every HighGUI back end we know.
KEY_CODES: dict[int, str] = {
    27: "Esc",
    # X11 keysyms: GTK, and Qt on X11 (nativeVirtualKey)
    0xFF1B: "Esc",
    0xFF50: "Home",
    0xFF51: "Left",
    0xFF52: "Up",
    0xFF53: "Right",
    0xFF54: "Down",
    0xFF55: "PageUp",
    0xFF56: "PageDown",
    0xFF57: "End",
    # X11 keypad keysyms (Num Lock off)
    0xFF95: "Home",
    0xFF96: "Left",
    0xFF97: "Up",
    0xFF98: "Right",
    0xFF99: "Down",
    0xFF9A: "PageUp",
    0xFF9B: "PageDown",
    0xFF9C: "End",
    # X11 modifier keysyms
    0xFFE1: "Shift",
    0xFFE2: "Shift",
    0xFFE3: "Ctrl",
    0xFFE4: "Ctrl",
    0xFFE5: "CapsLock",
    0xFFE7: "Meta",
    0xFFE8: "Meta",
    0xFFE9: "Alt",
    0xFFEA: "Alt",
    0xFFEB: "Super",
    0xFFEC: "Super",
    0xFE03: "AltGr",
    # Qt::Key enum (Qt platforms without native virtual keys)
    0x01000000: "Esc",
    0x01000010: "Home",
    0x01000011: "End",
    0x01000012: "Left",
    0x01000013: "Up",
    0x01000014: "Right",
    0x01000015: "Down",
    0x01000016: "PageUp",
    0x01000017: "PageDown",
    0x01000020: "Shift",
    0x01000021: "Ctrl",
    0x01000022: "Meta",
    0x01000023: "Alt",
    0x01000024: "CapsLock",
    # Win32: virtual-key code << 16
    0x210000: "PageUp",
    0x220000: "PageDown",
    0x230000: "End",
    0x240000: "Home",
    0x250000: "Left",
    0x260000: "Up",
    0x270000: "Right",
    0x280000: "Down",
    # Cocoa: NS*FunctionKey characters
    0xF700: "Up",
    0xF701: "Down",
    0xF702: "Left",
    0xF703: "Right",
    0xF729: "Home",
    0xF72B: "End",
    0xF72C: "PageUp",
    0xF72D: "PageDown",
    # the space bar (every back end: ASCII, X11 keysym) and the keypad's + and - (X11 keysyms)
    0x20: "space",
    0xFF80: "space",
    0xFFAB: "+",
    0xFFAD: "-",
}

_MODIFIERS = frozenset({"Shift", "Ctrl", "Meta", "Alt", "CapsLock", "Super", "AltGr"})

#: Seconds after a Shift press (Qt reports it as a key of its own) during which the
#: next letter counts as upper case.  Qt reports no key releases, so one Shift press
#: shifts one key: a later ``s`` is never mistaken for ``S``, and stepping back
#: through presets takes Shift+P for each step.
SHIFT_HOLD_S = 1.0


def decode_key(code: int) -> str | None:
    """Symbolic name of a ``cv2.waitKeyEx`` code, or None for no key / an unknown one.

    Printable ASCII comes back as the character itself (``'p'``, ``'P'``, ``'1'``);
    other keys as ``'Left'``, ``'PageDown'``, ``'Esc'``, ``'Shift'`` ...
    GTK's modifier bits (``state << 16``) are dropped: GDK already gives the
    shifted keysym (``P`` is 0x50).
    """
    if code is None or code < 0:
        return None
    if code in KEY_CODES:
        return KEY_CODES[code]
    if code < 0x01000000 and code > 0xFFFF:  # GTK: keyval | state << 16
        low = code & 0xFFFF
        if low in KEY_CODES:
            return KEY_CODES[low]
        code = low
    if 0x20 <= code <= 0x7E:
        return chr(code)
    return None


class KeyDecoder:
    """Stateful :func:`decode_key` that restores upper case on Qt builds.

    opencv-python's Qt back end returns ``p`` for both ``p`` and ``Shift+p``
    but reports the Shift press itself (0xffe1) just before.  Feed every
    waitKeyEx result with the current time; modifiers return None.
    """

    def __init__(self, hold_s: float = SHIFT_HOLD_S):
        self.hold_s = hold_s
        self._shift_at: float | None = None

    def __call__(self, code: int, now: float) -> str | None:
        key = decode_key(code)
        if key is None:
            return None
        if key == "Shift":
            self._shift_at = now
            return None
        if key in _MODIFIERS:
            return None
        shifted = self._shift_at is not None and now - self._shift_at <= self.hold_s
        self._shift_at = None  # one Shift press shifts one key
        if shifted and len(key) == 1 and key.isalpha():
            return key.upper()
        return key


#: The key list as (keys, action) rows, shown by ``h`` and copied into the README.  The ``1 - 9``
#: rows are a CT's; :func:`~dcmlib.viewer.labels.help_rows` lists the cycle of the image that is open.
HELP: tuple[tuple[str, str], ...] = (
    ("p / P", "next / previous preset, then the file's window"),
    ("1 - 9", "1 lung  2 bone  3 brain  4 soft tissue"),
    ("", "5 mediastinum  6 liver  7 stroke"),
    ("", "8 subdural  9 temporal bone"),
    ("0 / r", "the file's own window"),
    ("v", "next VOI stored in the file"),
    ("a", "auto window (0.5 - 99.5 % of the frame)"),
    ("m", "mode: linear, linear-exact, sigmoid"),
    ("i", "invert"),
    ("o", "annotations on / off"),
    ("t", "plane: axial, coronal, sagittal (a series)"),
    ("l", "overlays (60xx) on / off"),
    ("k / K", "segmentation (--seg) on / off; its opacity"),
    ("g", "presentation state (GSPS) on / off"),
    ("h", "this help on / off"),
    ("n Right Down PageDown", "next frame"),
    ("b Left Up PageUp", "previous frame"),
    ("Home / End", "first / last frame"),
    ("mouse wheel", "next (down) / previous (up) frame"),
    ("left drag", "right: wider window, down: higher center"),
    ("+ = / -", "zoom in / out (around the pointer); also Ctrl+wheel"),
    ("f / z", "fit to the window / actual pixels (1:1)"),
    ("right or middle drag", "pan"),
    ("x", "nearest neighbour (see the pixels) / smooth"),
    ("space", "play / pause the frames (cine)"),
    ("[ / ]", "half / double the cine rate"),
    ("d", "ruler: the next left drag measures a length"),
    ("e", "ellipse: the next left drag measures a region"),
    ("c", "clear the measurements"),
    ("s", "snapshot, full resolution (= --export)"),
    ("S", "save the window as shown"),
    ("q / Esc", "quit"),
)

#: The same as plain text lines.
HELP_LINES: tuple[str, ...] = tuple(f"{k:<22}{a}" for k, a in HELP)

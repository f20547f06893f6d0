"""The viewer model, pure Python and tested without a display: zoom and pan (viewport), measurements
(measure), key codes (keys), the state (state), the text it shows (labels), which window is shown
(windows), the events (controls); and the picture a window shows (view, over canvas, draw and the
remembered image; OpenCV, no HighGUI). dcmview.py is the HighGUI shell over it."""

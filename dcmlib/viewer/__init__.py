"""The viewer model, pure Python and tested without a display: zoom and pan (viewport), measurements
(measure), the state and its events (controls), and the picture a window shows (view; OpenCV, no HighGUI).
dcmview.py is the HighGUI shell over it."""

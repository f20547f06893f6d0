"""Display objects drawn after the pipeline: overlay planes (PS3.3 C.9.2), display shutters (C.7.6.11),
Grayscale Softcopy Presentation States (A.33.1) and their annotations (C.10.5), and segmentations
(C.8.20). Imports the layers below only."""

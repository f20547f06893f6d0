"""Values and the pure stage functions everyone shares: LUT and window types with the Modality and VOI LUT
stages (PS3.3 C.11), colour models (C.7.6.3.1), where a frame comes from, the presentation stage (C.11.6) and the
window presets. The bottom layer: it imports only dcmlib.errors; no files are read here but the presets file."""

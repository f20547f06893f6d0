"""Rendering: the grey and colour pipeline over the values read (VOI resolution, display tables,
viewports; PS3.3 C.11), what every image shares on top of it (dcmlib.render.imagebase), and writing images
(dcmlib.render.output). Imports dcmlib.read, dcmlib.values and the shared types only."""

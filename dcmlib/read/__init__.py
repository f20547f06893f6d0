"""Reading: a file's bytes to frozen headers (dcmlib.read.header), pixel elements and decoded frames
(dcmlib.read.io, the error boundary), the byte-bounded frame cache, and folders scanned into series.
Imports dcmlib.values and dcmlib.errors only."""

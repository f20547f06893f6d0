"""The images: a file or series (dcmlib.images.image: load, DicomImage, over its frame store), a plane
reformatted from a series (dcmlib.images.reformat), and the --info text. Each offers dcmlib.DisplayImage."""

"""The images: a file or series (dcmlib.images.image: load, DicomImage, over its frame store), a plane
reformatted from a series (reformat), an image seen through a presentation state (presented), and the
--info text. Each offers dcmlib.DisplayImage; imports the layers below only."""

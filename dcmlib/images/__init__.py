"""The images: a file or series (dcmlib.images.image: load, DicomImage, over its frame store), planes
reformatted from a series (reformat, over the plane geometry in planes and the volume built in volume), an
image seen through a presentation state (presented), and the --info text. Each offers dcmlib.DisplayImage;
imports the layers below only."""

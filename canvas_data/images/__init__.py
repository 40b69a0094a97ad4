"""Images: bytes in, pixels out, below every stage that reads or writes a picture.

Colour management (ICC profiles to sRGB with LittleCMS), normalising (RGB, centre square,
resize, JPEG bytes), integrity checks (a JPEG cut short, sizes
a file cannot hold), what a shard stores (upright sRGB JPEG, the stream walked to its end marker)
and the fast decode at the smallest DCT scale that is large enough. Intake, packing, the loaders,
the classifiers and the metrics all read pictures through these modules, so every reader sees the
same pixels.
"""

"""Engines: the passes over the data behind one typed protocol (in memory, streaming a file,
NumPy, Dask)."""

"""Audio I/O and signal utilities: decoding, resampling, metadata, synthesis."""

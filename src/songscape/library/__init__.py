"""The library: catalog store, ingestion pipeline, stage registry."""

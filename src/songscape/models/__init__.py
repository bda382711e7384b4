"""Representation models (front-ends, back-ends, pretrained imports, registry)."""

"""Shared test machinery: network namespaces, the output mask, side-by-side runs."""

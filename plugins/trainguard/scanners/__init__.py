"""Scanners: fast, streaming, per-shard detectors that annotate records.

They never return raw personal information to callers outside the scan: annotations
carry kinds, offsets, counts and HMACs.
"""

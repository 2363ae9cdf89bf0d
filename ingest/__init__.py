"""Bulk import of 成果, 需求 and organisations: read → validate → store → embed → index.

Used by the `ingest` command and the admin upload page; never imports Flask views.
"""

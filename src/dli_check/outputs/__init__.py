"""Output formats: the reviewer's text, CSV, JSON Schemas, views of a rule file, and safe
output files.
"""

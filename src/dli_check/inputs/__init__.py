"""Input formats: safe reading of files and strict case JSON (with line and column for
problems), and FHIR R4 Bundles read through a rule file's bindings.
"""

"""Interoperability mappings: Da Vinci CRD coverage information, PAS ClaimResponses, and
FHIR Questionnaires of missing facts.
"""

"""The rule language compiled to Python: the shared code writer, the case format and its
generated validator, and each service's generated criteria. Internal.
"""

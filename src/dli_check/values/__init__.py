"""Plain values the rules speak of: ICD-10-CM and its index, procedure codes and code sets,
and the validated case. Imports nothing of dli-check but the base modules.
"""

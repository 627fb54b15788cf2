"""The rule language: a rule file's bytes read into a validated model with positions (YAML,
the pydantic model, the operators and the words of rule-file problems). Internal: use
`dli_check.load_rules`.
"""

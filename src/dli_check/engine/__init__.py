"""The engine: compiled rules (`Rules`), guideline versions (`RuleSet`), the compiled-rules
cache, and deciding validated cases. It reads no input format: the front door
(`dli_check.api`) hands it validated data.
"""

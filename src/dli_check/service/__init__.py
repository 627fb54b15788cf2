"""``dli-check serve``: the FastAPI application, client tokens, the decision log and the
connection guard.
"""

"""Many cases: listing inputs, the worker pool, summaries and resuming (`run_batch`,
`list_inputs`), comparing two rule-file revisions, and rule-file test suites.
"""

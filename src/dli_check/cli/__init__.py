"""The command line: Typer commands that parse flags and call the library, and the fast
path for one case.
"""

"""``python -m dli_check``: the same as the ``dli-check`` command."""

from dli_check.cli import main

main()

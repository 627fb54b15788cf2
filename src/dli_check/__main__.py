"""The ``dli-check`` command's entry point, also run by ``python -m dli_check``.

It answers what needs no command-line parser (a closed standard output, ``--version``,
and the plain ``dli-check CASE.json [--format F] [--rules R] ...``, see
`dli_check.cli.one_case`) before importing one, since every run pays for what is imported
here; and it keeps any traceback from reaching the user.
"""

from __future__ import annotations

import sys

from dli_check.exit_codes import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, EXIT_OUTPUT_FAILED


def main() -> None:
    """Entry point of the ``dli-check`` console script."""
    if sys.stdout is None:  # started with standard output closed (>&-)
        if sys.stderr is not None:
            print("dli-check: standard output is closed", file=sys.stderr)
        sys.exit(EXIT_OUTPUT_FAILED)
    try:
        if sys.argv[1:] == ["--version"]:  # the common probe, answered without loading Typer
            _version()
            return
        from dli_check.cli.one_case import Failed, check_case, parse_plain

        plain = parse_plain(sys.argv[1:])
        if plain is not None:
            try:
                sys.exit(check_case(**plain))
            except Failed as exc:
                sys.exit(exc.code)
        from dli_check.cli.commands import run

        run()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        print(
            f"dli-check: internal error ({type(exc).__name__}); please report it", file=sys.stderr
        )
        sys.exit(EXIT_INTERNAL_ERROR)


def _version() -> None:
    from dli_check.engine.about import bundled_rules_path, version_text

    try:
        sys.stdout.write(version_text(bundled_rules_path()) + "\n")
        sys.stdout.flush()
    except OSError as exc:
        from dli_check.outputs.writer import write_failure

        print(f"dli-check: {write_failure('<stdout>', exc)}", file=sys.stderr)
        sys.exit(EXIT_OUTPUT_FAILED)


if __name__ == "__main__":
    main()

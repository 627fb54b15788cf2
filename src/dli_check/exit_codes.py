"""The exit codes of the ``dli-check`` command (also in ``--help`` and the README):

* 0: every case was evaluated;
* 1: at least one case was invalid (the others were still evaluated);
* 2: usage error, unreadable input path, invalid rule file, or an output that is an input;
* 3: with ``--fail-unless-approved``, at least one case was not medically necessary or
  lacked information (and none was invalid);
* 4: the output could not be written (disk full, closed pipe); what was written is whole;
* 70: an internal error (a bug: please report it);
* 130 and 143: stopped by Ctrl-C (SIGINT) or SIGTERM (128 + the signal's number); what was
  written is whole records.
"""

EXIT_OK, EXIT_INVALID_CASE, EXIT_USAGE, EXIT_NOT_APPROVED, EXIT_OUTPUT_FAILED = 0, 1, 2, 3, 4
EXIT_INTERNAL_ERROR = 70
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 every case evaluated; 1 at least one case invalid (the others still "
    "evaluated); 2 usage error, unreadable input path, invalid rule file, or an output that "
    "is an input; 3 with --fail-unless-approved, a case not medically necessary or lacking "
    "information (not applicable is no failure); 4 the output could not be written (disk "
    "full, closed pipe); 70 internal error; 130 or 143 stopped by Ctrl-C or SIGTERM (what "
    "was written is whole records)."
)

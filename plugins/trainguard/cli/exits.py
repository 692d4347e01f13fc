"""The command line's exit codes (DESIGN.md): every verb answers with one of these."""

EXIT_PASS = 0  # done; the gate passed
EXIT_FAIL = 1  # a negative answer: the gate failed, a bundle or chain does not verify
EXIT_ERROR = 2  # bad input or an unreachable store: one message on stderr, no traceback
EXIT_BUG = 3  # an unexpected error: a bug in trainguard, never a decision

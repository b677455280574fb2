"""The size budgets a handoff keeps to, and their defaults (each one has a flag of the same name).

Here, apart from the stages that enforce them, so a face can show the defaults in `--help` without
loading those stages.
"""

DEFAULT_MAX_DIFF_BYTES = 100_000        # the text patch (--max-diff-bytes)
DEFAULT_PROMPT_BYTES = 100_000          # the whole prompt: texts, facts and patch (--max-prompt-bytes)
DEFAULT_MAX_BUNDLE_BYTES = 50_000_000   # the git bundle (--max-bundle-bytes)

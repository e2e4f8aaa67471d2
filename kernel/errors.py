"""Errors the code side raises; the CLI maps them to messages and exit codes."""


class KernelInputError(Exception):
    """Bad tree, base, option or patch given by the user: exit 2."""


class KernelToolError(Exception):
    """git, make, a compiler or checkpatch failed in a way that is not the patch's fault: exit 3."""

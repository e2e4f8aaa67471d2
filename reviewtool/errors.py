"""The two roots of failure (after tuxmake): the user's input, or the machine/tools.

`series` and `kernel` raise their own classes (they must not import reviewtool);
this module groups them so the CLI turns each into one line and an exit code.
"""
from kernel.errors import KernelInputError, KernelToolError
from series.errors import SeriesFetchError, SeriesInputError

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INFRA = 3


class UsageError(Exception):
    """Bad options or a combination of them: exit 2."""


class ClusterError(Exception):
    """The Dask cluster failed us (a build killed every worker it ran on, or ran out of time): exit 3."""


class ClusterLost(ClusterError):
    """The Dask scheduler does not answer, or went away mid-job: nothing failed, the work can be sent
    again once it is back (the watcher keeps the job queued)."""


class ToolError(Exception):
    """A tool, a server or the machine failed in reviewtool's own steps (e.g. git fetch of an inbox): exit 3."""


USER_ERRORS: tuple[type[Exception], ...] = (UsageError, SeriesInputError, KernelInputError)
INFRA_ERRORS: tuple[type[Exception], ...] = (SeriesFetchError, KernelToolError, ClusterError, ToolError)


def one_line(exc: Exception, limit: int = 600) -> str:
    """The error as one line: tools' stderr quoted in a message (git's progress, perl's
    diagnostics) may hold newlines and carriage returns; a long one keeps its start and end."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else f"{text[:limit // 2]} ... {text[-limit // 2:]}"

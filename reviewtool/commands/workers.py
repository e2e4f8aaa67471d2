"""`reviewtool workers`: what a Dask cluster of reviewtool workers holds and is doing."""
from __future__ import annotations

import argparse
import json
import sys

from reviewtool.cluster import cluster_status, connect
from reviewtool.commands.review import scheduler_address
from reviewtool.errors import EXIT_CLEAN

EPILOG = """\
examples:
  reviewtool workers --scheduler tcp://127.0.0.1:8786
  reviewtool workers --scheduler tcp://buildhost:8786 --json

Lists each worker with the arches it builds (its Dask resources), the build
tasks it is running, and the tasks waiting for a worker (for instance an arch
that no worker offers). Start the cluster as the README says (dask scheduler,
dask worker --resources "x86_64=1,arm64=1").
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "workers", help="show the Dask cluster: workers, their arches, running and waiting builds",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scheduler", required=True, metavar="ADDR", type=scheduler_address,
                        help="tcp://HOST:PORT of the `dask scheduler`")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.set_defaults(command_module=sys.modules[__name__])


def run(args: argparse.Namespace) -> int:
    with connect(None if args.scheduler == "local" else args.scheduler) as client:
        status = cluster_status(client)
    if args.json:
        json.dump(status, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    print(f"scheduler {status['scheduler']}: {len(status['workers'])} workers")
    for w in status["workers"]:
        print(f"  {w['address']}  {w['name'] or '-'}  arches: {', '.join(w['arches']) or 'none'}  "
              f"threads: {w['threads']}  running: {len(w['running'])}")
        for key in w["running"]:
            print(f"      {key}")
    print(f"waiting for a worker: {len(status['waiting'])}")
    for key in status["waiting"]:
        print(f"  {key}")
    return EXIT_CLEAN

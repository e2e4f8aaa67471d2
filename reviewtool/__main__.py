"""Allow `python -m reviewtool`."""
from reviewtool.cli import main

raise SystemExit(main())

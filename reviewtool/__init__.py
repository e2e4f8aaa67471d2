"""reviewtool: orchestration (CLI, pipeline, run store, reports) over `series` and `kernel`."""

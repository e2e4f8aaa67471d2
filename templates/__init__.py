"""jinja2 templates for reports and reply drafts; shipped as package data."""
from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent

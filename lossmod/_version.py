"""The version of lossmod and of the course, kept here only:
pyproject.toml reads it, and lossmod_instructor/_version.py is a link to
this file."""

__version__ = "0.2.0"

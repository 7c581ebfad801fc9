"""Helpers the tests share: inputs for the registry sweep (``cases``), the browser
(``browser``), the book build (``book``), the grader's command line (``grading``) and the list
of lesson notebooks (``notebooks``). Tests import from here, never from ``conftest`` or from one
another."""

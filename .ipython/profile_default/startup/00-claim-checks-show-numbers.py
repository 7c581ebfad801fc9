"""A claim check that fails shows its numbers: every cell's `assert` statements are rewritten as
pytest rewrites a test module's (the kernels of nbval, the book build and `make lab` load this
profile through IPYTHONDIR). `assert abs(x - 0.5) < 1e-3` then fails with
`assert 0.0123 < 0.001` and where 0.0123 came from, not a bare AssertionError."""


def _rewrite_asserts_in_every_cell() -> None:
    import ast

    try:
        from _pytest.assertion.rewrite import rewrite_asserts
    except ImportError:  # a kernel without pytest keeps plain asserts
        return

    class ShowAssertNumbers(ast.NodeTransformer):
        def visit_Module(self, node: ast.Module) -> ast.Module:
            rewrite_asserts(node, b"")
            # pytest gives the imports it adds a start line only; IPython would then end them on
            # line 1, before a cell's first statement on line 2 (after a comment), which
            # compile refuses.
            for child in ast.walk(node):
                if getattr(child, "lineno", None) is not None and child.end_lineno is None:
                    child.end_lineno, child.end_col_offset = child.lineno, child.col_offset
            return node

    get_ipython().ast_transformers.append(ShowAssertNumbers())  # type: ignore[name-defined]  # noqa: F821


_rewrite_asserts_in_every_cell()
del _rewrite_asserts_in_every_cell

"""What to install when an optional framework is missing (pure; no imports of the extras).

The adapters import their framework lazily; when it is not installed the bare
``ModuleNotFoundError: No module named 'langchain_core'`` does not say which extra brings
it. :func:`missing_extra` turns that error into one that does, and leaves every other
import error (a broken install, a missing dependency of the framework itself) alone.
"""

from __future__ import annotations

from importlib.util import find_spec

__all__ = ["missing_extra"]


def missing_extra(
    exc: ModuleNotFoundError, *, integration: str, module: str, package: str, extra: str
) -> ModuleNotFoundError | None:
    """A ``ModuleNotFoundError`` saying ``pip install 'holysheep-integrations[extra]'`` when
    ``exc`` comes from ``module`` not being importable, else None (a missing submodule of an
    importable ``module`` is a version mismatch, not a missing extra).

    >>> err = missing_extra(
    ...     ModuleNotFoundError("No module named 'langchain_core'", name="langchain_core"),
    ...     integration="langchain_holysheep",
    ...     module="langchain_core",
    ...     package="langchain-core",
    ...     extra="langchain",
    ... )
    >>> str(err).endswith("pip install 'holysheep-integrations[langchain]'")
    True
    """
    name = exc.name or ""
    missing = name == module or module.startswith(name + ".")  # it, or a package above it
    if not missing and name.startswith(module + "."):
        missing = not _importable(module)  # e.g. sys.modules[module] = None
    if not name or not missing:
        return None
    return ModuleNotFoundError(
        f"{integration} needs {package}, which is not installed ({exc}). "
        f"Install it with: pip install 'holysheep-integrations[{extra}]'",
        name=exc.name,
    )


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False

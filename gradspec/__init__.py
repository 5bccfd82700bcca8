"""gradspec: a conformance suite and spec harness for automatic differentiation.

The public API for adapter authors is ``gradspec.adapter`` (the contract,
versioned by ``API_VERSION``); for case authors ``gradspec.case``,
``gradspec.inputs``, ``gradspec.requests`` and ``gradspec.expect``.  The
engine never imports a framework.
"""
from .adapter import API_VERSION, Adapter, FunctionalAdapter
from .versions import SCHEMA_VERSION, SUITE_VERSION

__version__ = SUITE_VERSION
__all__ = ["API_VERSION", "Adapter", "FunctionalAdapter", "SCHEMA_VERSION", "__version__"]

"""The version of the collection, written only here.

pyproject.toml reads it when building (``dynamic = ["version"]``: a file of its own, because the
checkout's ``tasks.py`` would shadow ``tasks/__init__.py`` in setuptools' lookup), ``inv doctor``
prints it, and ``devstack_tasks.__version__`` re-exports it.
"""

__version__ = "0.2.0"

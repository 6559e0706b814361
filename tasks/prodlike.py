"""`inv prodlike.*`: the worker under production-like limits (filled in by the prodlike issue)."""
from invoke import Collection

ns = Collection("prodlike")

"""Rewrite the generated parts of the configuration docs from tasks/knowledge/defaults.py.

    python docs/generate.py

docs/invoke.schema.json (the JSON Schema of invoke.yaml) and the table of keys in
docs/configuration.md; tests/unit/test_settings_schema.py fails while either is stale.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.knowledge import config_docs  # noqa: E402

doc = ROOT / "docs/configuration.md"
doc.write_text(config_docs.with_table(doc.read_text(encoding="utf-8")), encoding="utf-8")
(ROOT / "docs/invoke.schema.json").write_text(config_docs.json_schema_text(), encoding="utf-8")
print("wrote docs/configuration.md and docs/invoke.schema.json")

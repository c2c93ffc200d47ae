#!/usr/bin/env python3
"""Writes the OpenTelemetry registries' attribute, metric and event names, one per line, for the test that checks
every name inferwatch emits (tests/semconv.rs, `emitted_names_are_in_the_registry`).

Two sources, as the names are maintained today:

- the semantic-conventions registry, through the `opentelemetry-semantic-conventions` Python package, which
  generates one constant per name (stable and incubating), each followed by its docstring. A docstring that
  starts with "Deprecated" marks a name the registry has replaced (e.g. `rpc.grpc.status_code`), except for the
  `gen_ai.*` names it says were moved to the GenAI registry;
- the GenAI registry (github.com/open-telemetry/semantic-conventions-genai), from its `model/gen-ai` folder:
  `registry.yaml` (attributes), `metrics.yaml` and `events.yaml`.

    python3 -m pip install opentelemetry-semantic-conventions==0.66b2
    python3 scripts/semconv_registry.py --genai-model ../semantic-conventions-genai/model/gen-ai \\
        > tests/data/semconv-registry.txt

Output lines: `attribute <name>`, `metric <name>`, `event <name>`, with ` deprecated` appended where the registry
says so.
"""
import argparse
import ast
import importlib.metadata
import pathlib
import re

import opentelemetry.semconv as semconv

MOVED_TO_GENAI = "Moved to the [OpenTelemetry GenAI semantic conventions repository]"


def package_names(path, kind):
    body = ast.parse(path.read_text()).body
    for i, node in enumerate(body):
        value = getattr(node, "value", None)
        if not isinstance(node, (ast.AnnAssign, ast.Assign)) or not isinstance(value, ast.Constant):
            continue
        name = value.value
        if not isinstance(name, str) or "." not in name or " " in name:
            continue
        doc = ""
        following = body[i + 1] if i + 1 < len(body) else None
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            doc = str(following.value.value).strip()
        if MOVED_TO_GENAI in doc:
            continue
        yield kind, name, doc.startswith("Deprecated")


def yaml_names(path, section, pattern):
    """Names under a top-level `section:` of a semconv model file, matched by `pattern`."""
    inside = False
    for line in path.read_text().splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith(f"{section}:")
            continue
        match = re.match(pattern, line)
        if inside and match:
            yield match.group(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genai-model", type=pathlib.Path, required=True, help="semantic-conventions-genai/model/gen-ai")
    args = parser.parse_args()
    entries = {}
    root = pathlib.Path(semconv.__file__).parent
    for folder, kind in (("attributes", "attribute"), ("metrics", "metric")):
        for path in sorted(root.glob(f"**/{folder}/*.py")):
            for kind_, name, deprecated in package_names(path, kind):
                # Listed as both stable and incubating: deprecated only if both say so.
                entries[(kind_, name)] = entries.get((kind_, name), True) and deprecated
    genai = args.genai_model
    for kind, path, section, pattern in (
        ("attribute", genai / "registry.yaml", "attributes", r"^  - key: (\S+)"),
        ("metric", genai / "metrics.yaml", "metrics", r"^  - name: (\S+)"),
        ("event", genai / "events.yaml", "events", r"^  - name: (\S+)"),
    ):
        for name in yaml_names(path, section, pattern):
            entries[(kind, name)] = False
    version = importlib.metadata.version("opentelemetry-semantic-conventions")
    print(f"# opentelemetry-semantic-conventions {version} and semantic-conventions-genai model/gen-ai;")
    print("# written by scripts/semconv_registry.py, do not edit by hand")
    for (kind, name), deprecated in sorted(entries.items()):
        print(f"{kind} {name}{' deprecated' if deprecated else ''}")


if __name__ == "__main__":
    main()

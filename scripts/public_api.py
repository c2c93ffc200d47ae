#!/usr/bin/env python3
"""Lists inferwatch's public API from rustdoc's JSON output, one item per line, sorted.

Every item reachable from the crate root through public modules and re-exports is listed at each path it can
be named by, with its kind; inherent methods, trait methods, enum variants, public fields and the crate's own
trait implementations are listed under their type. The list is committed (docs/public-api.txt) and `.ci/run`
compares it with the code, so a change to the public API shows up as a diff in review.

    CARGO_TARGET_DIR=target/api RUSTC_BOOTSTRAP=1 cargo rustdoc --lib --all-features -- -Z unstable-options --output-format json
    python3 scripts/public_api.py target/api/doc/inferwatch.json > docs/public-api.txt
    python3 scripts/public_api.py target/api/doc/inferwatch.json --summary   # counts by kind

(RUSTC_BOOTSTRAP lets the stable toolchain's rustdoc write its JSON, which is still an unstable format.)
"""
import json
import sys
from collections import Counter


def main():
    path = sys.argv[1]
    summary = "--summary" in sys.argv[2:]
    doc = json.load(open(path))
    index = doc["index"]
    item = lambda i: index.get(str(i))
    lines = set()
    paths_of = {}

    def kind_of(it):
        return next(iter(it["inner"]))

    def signature(it):
        inner = it["inner"]
        if "function" in inner:
            sig = inner["function"]["sig"]
            args = ", ".join(name for name, _ in sig["inputs"])
            return f"({args})"
        return ""

    def members(it, prefix):
        inner = it["inner"]
        k = kind_of(it)
        if k == "struct":
            kind = inner["struct"]["kind"]
            if isinstance(kind, dict) and "plain" in kind:
                for f in kind["plain"]["fields"]:
                    fi = item(f)
                    if fi and fi["visibility"] == "public":
                        lines.add(f"field {prefix}.{fi['name']}")
        if k == "enum":
            for v in inner["enum"]["variants"]:
                vi = item(v)
                if vi:
                    lines.add(f"variant {prefix}::{vi['name']}")
        if k == "trait":
            for t in inner["trait"]["items"]:
                ti = item(t)
                if ti:
                    lines.add(f"trait-item {kind_of(ti)} {prefix}::{ti['name']}{signature(ti)}")
        for impl_id in inner.get(k, {}).get("impls", []) if isinstance(inner.get(k), dict) else []:
            impl = item(impl_id)
            if not impl:
                continue
            im = impl["inner"]["impl"]
            if im.get("is_synthetic") or im.get("blanket_impl") is not None:
                continue
            trait = im.get("trait")
            if trait is None:
                for m in im["items"]:
                    mi = item(m)
                    if mi and mi["visibility"] == "public":
                        lines.add(f"{kind_of(mi)} {prefix}::{mi['name']}{signature(mi)}")
            else:
                lines.add(f"impl {trait['path']} for {prefix}")

    def walk(module_id, prefix, seen):
        it = item(module_id)
        if it is None or module_id in seen:
            return
        seen = seen | {module_id}
        for child in it["inner"]["module"]["items"]:
            ci = item(child)
            if ci is None or ci["visibility"] != "public":
                continue
            k = kind_of(ci)
            if k == "use":
                use = ci["inner"]["use"]
                target = item(use["id"]) if use["id"] is not None else None
                if target is None:
                    lines.add(f"re-export {prefix}::{use['name']} = {use['source']}")
                    continue
                if use["is_glob"]:
                    walk(use["id"], prefix, seen)
                    continue
                add(target, use["id"], f"{prefix}::{use['name']}", seen)
            else:
                add(ci, child, f"{prefix}::{ci['name']}", seen)

    def add(it, ident, path, seen):
        k = kind_of(it)
        paths_of.setdefault(str(ident), set()).add(path)
        if k == "module":
            lines.add(f"mod {path}")
            walk(ident, path, seen)
            return
        lines.add(f"{k} {path}{signature(it)}")
        members(it, path)

    root = doc["root"]
    walk(root, index[str(root)]["name"], frozenset())
    if summary:
        kinds = Counter(line.split(" ", 1)[0] for line in lines)
        for kind, n in sorted(kinds.items()):
            print(f"{kind:12} {n}")
        types = sum(kinds[k] for k in ("struct", "enum", "trait", "type_alias", "union"))
        unique = Counter(kind_of(item(i)) for i in paths_of)
        unique_types = sum(unique[k] for k in ("struct", "enum", "trait", "type_alias", "union"))
        print(f"paths: types (struct, enum, trait, alias) {types}, constants {kinds['constant']}, "
              f"functions {kinds['function']}, modules {kinds['mod']}")
        print(f"distinct items: types {unique_types}, constants {unique['constant']}, "
              f"functions {unique['function']}; items at more than one path: "
              f"{sum(1 for p in paths_of.values() if len(p) > 1)}")
        for ident, paths in sorted(paths_of.items(), key=lambda kv: sorted(kv[1])):
            if len(paths) > 1:
                print("  two paths:", ", ".join(sorted(paths)))
        return
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()

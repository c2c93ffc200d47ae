#!/usr/bin/env python3
"""The crate's module dependency graph, and its import cycles.

Every `use` and every `crate::` / `super::` / `self::` path in src/ is resolved to the module (file) that
defines the item it names, following re-exports (`pub use`), so a file that imports `crate::observe::Observer`
depends on `observe/mod.rs`, and one that imports `crate::observe::MetricsObserver` (re-exported there) on
`observe/metrics/mod.rs`. A module declaring its children (`mod x;`) is not a dependency on them, but re-exporting
their items is (as `cargo modules` counts it). The graph's strongly connected components are the import cycles;
the natural pairs listed in `ALLOWED` (a type and its builder) are accepted.

    python3 scripts/module_graph.py                       # the facade (src/); exits 1 if there is a cycle
    python3 scripts/module_graph.py --src crates/core/src # one crate of the workspace
    python3 scripts/module_graph.py --edges    # prints the graph too

This is a text-level reading, not the compiler's: macros and fully qualified paths inside strings are not
followed. It is what `.ci/run` runs; `cargo modules dependencies --lib --acyclic` gives the same verdict where it
can be installed.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One crate's sources: the one named by `--src DIR` (e.g. crates/core/src), else the facade's.
SRC = ROOT / (sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv else "src")
# Mutual dependencies accepted: `InferenceLayer::builder()` and the builder that builds the layer.
ALLOWED = [{("layer",), ("layer", "builder")}]
ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*"
    r"(struct|enum|trait|type|const|static|fn|mod|union)\s+([A-Za-z_][A-Za-z0-9_]*)"
)
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S | re.M)
INLINE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text):
    # Unit tests sit in an inline `mod tests` at the end of a file, where `super` means the file itself.
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests\b", text)[0]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def use_paths(tree):
    """Flattens a use tree (`a::{b, c::{d as e}}`) into paths of segments, with the name each binds."""
    tree = re.sub(r"\s*::\s*", "::", re.sub(r"\s+", " ", tree)).strip()

    def expand(prefix, text):
        for part in split_top(text):
            part = part.strip()
            if not part:
                continue  # the empty item after a trailing comma
            if "{" in part:
                head, inner = part.split("{", 1)
                yield from expand(prefix + [s for s in head.split("::") if s], inner.rsplit("}", 1)[0])
                continue
            path, _, alias = part.partition(" as ")
            segments = prefix + [s for s in path.strip().split("::") if s]
            if segments and segments[-1] == "self":
                segments = segments[:-1]
            yield segments, (alias.strip() or None)

    return list(expand([], tree))


def split_top(text):
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p]


def main():
    files = {module_of(p): p for p in SRC.rglob("*.rs")}
    texts = {m: strip_comments(p.read_text()) for m, p in files.items()}
    defined = defaultdict(set)
    reexports = {}  # (module, name) -> absolute path segments
    uses = defaultdict(list)
    for module, text in texts.items():
        for line in text.splitlines():
            match = ITEM.match(line)
            if match:
                defined[module].add(match.group(2))
        for match in USE.finditer(text):
            public = match.group(1) is not None
            for segments, alias in use_paths(match.group(2)):
                absolute = absolutise(module, segments, files)
                if absolute is None:
                    continue
                if public:
                    reexports[(module, alias or absolute[-1])] = absolute
                uses[module].append(absolute)
        for match in INLINE.finditer(re.sub(r"^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", text, flags=re.S | re.M)):
            absolute = absolutise(module, match.group(1).split("::"), files)
            if absolute:
                uses[module].append(absolute)

    def resolve(segments, depth=0):
        """The module defining what `segments` (absolute, from the crate root) names."""
        for cut in range(len(segments), -1, -1):
            module = tuple(segments[:cut])
            if module in files:
                rest = segments[cut:]
                if not rest:
                    return module
                name = rest[0]
                if (module, name) in reexports and depth < 20:
                    return resolve(reexports[(module, name)] + rest[1:], depth + 1)
                return module
        return None

    edges = defaultdict(set)
    why = defaultdict(set)
    for module, paths in uses.items():
        for segments in paths:
            target = resolve(segments)
            if target is not None and target != module:
                edges[module].add(target)
                why[(module, target)].add("::".join(segments))
    components = [c for c in sccs(files, edges) if len(c) > 1]
    cycles = [c for c in components if set(c) not in ALLOWED]
    natural = [c for c in components if set(c) in ALLOWED]
    name = lambda m: "::".join(("crate",) + m)
    if "--edges" in sys.argv:
        for module in sorted(edges):
            targets = (f"{name(t)} ({', '.join(sorted(why[(module, t)]))})" for t in sorted(edges[module]))
            print(f"{name(module)} -> {'; '.join(targets)}")
    for pair in natural:
        print("natural pair (accepted):", " <-> ".join(sorted(name(m) for m in pair)))
    for cycle in cycles:
        print("cycle:", " <-> ".join(sorted(name(m) for m in cycle)))
    print(f"{len(files)} modules, {sum(len(t) for t in edges.values())} dependencies, {len(cycles)} cycles")
    return 1 if cycles else 0


def absolutise(module, segments, files):
    """Segments from the crate root, or None for paths outside the crate."""
    if not segments:
        return None
    head = segments[0]
    if head == "crate":
        return segments[1:]
    base = list(module)
    if head in ("self", "super"):
        rest = list(segments)
        while rest and rest[0] in ("self", "super"):
            if rest.pop(0) == "super":
                base = base[:-1]
        return base + rest
    # A path relative to this module that names one of its children (`use child::Item`).
    if tuple(base + [head]) in files:
        return base + list(segments)
    return None


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(component)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())

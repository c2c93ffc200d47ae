#!/usr/bin/env python3
"""Lists inferwatch's public API from rustdoc's JSON output, one item per line, sorted, with full signatures.

Every item reachable from the crate root through public modules and re-exports is listed at each path it can
be named by, with its kind and signature: functions and methods with their generics, argument names and types,
return type, where-clauses and qualifiers (const, async, unsafe); structs, enums, traits and type aliases with
their generics and bounds; constants and statics with their types. Under each type: its public fields with their
types, its enum variants with theirs (and whether more may be added), its inherent methods and associated
constants, its trait implementations (with their generics, and the auto traits Send and Sync, which a private
field can take away); under each trait its items, and which methods have a default. So the list changes with any
change a user of the crate could notice in a signature. The lists are committed, one per crate
(docs/public-api/<crate>.txt), and `.ci/run` compares them with the code, so a change to the public API shows up as a diff in review.

Types are named by a public path of this crate (the shortest) when they are its own, by their name alone when
they come from the standard library (core, alloc, std), and by their defining path otherwise.

    CARGO_TARGET_DIR=target/api RUSTC_BOOTSTRAP=1 cargo rustdoc -p inferwatch-core --lib --all-features -- \
        -Z unstable-options --output-format json
    python3 scripts/public_api.py target/api/doc/inferwatch_core.json > docs/public-api/inferwatch-core.txt
    python3 scripts/public_api.py target/api/doc/inferwatch_core.json --summary   # counts by kind

(RUSTC_BOOTSTRAP lets the stable toolchain's rustdoc write its JSON, which is still an unstable format.)
"""
import json
import sys
from collections import Counter

STD_CRATES = {"core", "alloc", "std"}
# Auto traits a user relies on (moving a value to another thread, sharing it): listed even though rustdoc derives
# them. The others (Unpin, UnwindSafe, RefUnwindSafe, Freeze) are left out.
AUTO_TRAITS = {"Send", "Sync"}
# Implementations that say nothing a user can rely on in words that stay put: derive(PartialEq)'s marker, and
# pin-project's Unpin, written in terms of its private types.
UNLISTED_IMPLS = {"StructuralPartialEq", "Unpin"}


class Api:
    def __init__(self, doc: dict):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc.get("paths", {})
        self.lines = set()
        self.paths_of = {}  # item id -> every public path it can be named by

    def item(self, ident):
        return self.index.get(str(ident)) if ident is not None else None

    @staticmethod
    def kind_of(it) -> str:
        return next(iter(it["inner"]))

    # Names and types.

    def name_of(self, ident, written: str) -> str:
        """How a type or trait is named: its shortest public path here, its name for the standard library, its
        defining path for another crate; what the source wrote when rustdoc knows neither."""
        public = self.paths_of.get(str(ident))
        if public:
            return min(public, key=lambda p: (p.count("::"), p))
        summary = self.paths.get(str(ident))
        if summary:
            segments = summary["path"]
            if segments[0] in STD_CRATES:
                return segments[-1]
            return "::".join(segments)
        return written

    def path(self, p: dict) -> str:
        """A resolved path (a type or a trait) with its generic arguments."""
        return self.name_of(p.get("id"), p.get("path") or p.get("name", "?")) + self.generic_args(p.get("args"))

    def generic_args(self, args) -> str:
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = [self.generic_arg(a) for a in ab.get("args", [])]
            parts += [self.constraint(c) for c in ab.get("constraints", ab.get("bindings", []))]
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            pa = args["parenthesized"]
            output = f" -> {self.type(pa['output'])}" if pa.get("output") else ""
            return f"({', '.join(self.type(t) for t in pa['inputs'])}){output}"
        return "(..)"  # return type notation

    def generic_arg(self, a) -> str:
        if a == "infer":
            return "_"
        if "lifetime" in a:
            return a["lifetime"]
        if "type" in a:
            return self.type(a["type"])
        if "const" in a:
            const = a["const"]
            return const.get("expr") or const.get("value") or "_"
        return str(a)

    def constraint(self, c) -> str:
        head = c["name"] + self.generic_args(c.get("args"))
        binding = c.get("binding")
        if isinstance(binding, dict) and "equality" in binding:
            term = binding["equality"]
            value = self.type(term["type"]) if "type" in term else str(term.get("constant", {}).get("expr", "_"))
            return f"{head} = {value}"
        if isinstance(binding, dict) and "constraint" in binding:
            return f"{head}: {self.bounds(binding['constraint'])}"
        return head

    def bounds(self, bounds: list) -> str:
        return " + ".join(self.bound(b) for b in bounds)

    def bound(self, b) -> str:
        if "trait_bound" in b:
            tb = b["trait_bound"]
            modifier = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
            return self.hrtb(tb.get("generic_params")) + modifier + self.path(tb["trait"])
        if "outlives" in b:
            return b["outlives"]
        if "use" in b:
            return "use<" + ", ".join(u if isinstance(u, str) else next(iter(u.values())) for u in b["use"]) + ">"
        return str(b)

    def hrtb(self, params) -> str:
        names = [p["name"] for p in params or []]
        return f"for<{', '.join(names)}> " if names else ""

    def type(self, t) -> str:
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.path(v)
        if kind == "generic":
            return v
        if kind == "primitive":
            return v
        if kind == "tuple":
            return "(" + ", ".join(self.type(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if kind == "slice":
            return f"[{self.type(v)}]"
        if kind == "array":
            return f"[{self.type(v['type'])}; {v['len']}]"
        if kind == "borrowed_ref":
            lifetime = f"{v['lifetime']} " if v.get("lifetime") else ""
            return f"&{lifetime}{'mut ' if v['is_mutable'] else ''}{self.type(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {self.type(v['type'])}"
        if kind == "dyn_trait":
            traits = [self.hrtb(pt.get("generic_params")) + self.path(pt["trait"]) for pt in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "function_pointer":
            header = self.header(v.get("header", {}))
            sig = v["sig"]
            inputs = ", ".join(self.type(ty) for _, ty in sig["inputs"])
            output = f" -> {self.type(sig['output'])}" if sig.get("output") else ""
            return f"{self.hrtb(v.get('generic_params'))}{header}fn({inputs}){output}"
        if kind == "qualified_path":
            self_type = self.type(v["self_type"])
            args = self.generic_args(v.get("args"))
            if v.get("trait"):
                return f"<{self_type} as {self.path(v['trait'])}>::{v['name']}{args}"
            return f"{self_type}::{v['name']}{args}"
        if kind == "pat":
            return self.type(v["type"])
        if kind == "infer" or t == "infer":
            return "_"
        return json.dumps(t, sort_keys=True)

    @staticmethod
    def header(h: dict) -> str:
        words = [w for w, on in (("const", h.get("is_const")), ("async", h.get("is_async")),
                                 ("unsafe", h.get("is_unsafe"))) if on]
        abi = h.get("abi", "Rust")
        if abi != "Rust":
            words.append(f'extern "{abi if isinstance(abi, str) else next(iter(abi))}"')
        return "".join(w + " " for w in words)

    # Generics.

    def generics(self, g) -> str:
        params = []
        for p in (g or {}).get("params", []):
            kind = p["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"].get("outlives", [])
                params.append(p["name"] + (": " + " + ".join(outlives) if outlives else ""))
            elif "type" in kind:
                tk = kind["type"]
                if tk.get("is_synthetic"):
                    continue  # `impl Trait` in argument position: shown in the argument
                text = p["name"]
                if tk.get("bounds"):
                    text += ": " + self.bounds(tk["bounds"])
                if tk.get("default"):
                    text += " = " + self.type(tk["default"])
                params.append(text)
            elif "const" in kind:
                ck = kind["const"]
                text = f"const {p['name']}: {self.type(ck['type'])}"
                if ck.get("default"):
                    text += f" = {ck['default']}"
                params.append(text)
        return f"<{', '.join(params)}>" if params else ""

    def where_clause(self, g) -> str:
        predicates = []
        for w in (g or {}).get("where_predicates", []):
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                predicates.append(f"{self.hrtb(bp.get('generic_params'))}{self.type(bp['type'])}: "
                                  f"{self.bounds(bp['bounds'])}")
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                predicates.append(f"{lp['lifetime']}: {' + '.join(lp['outlives'])}")
            elif "eq_predicate" in w:
                ep = w["eq_predicate"]
                rhs = ep["rhs"]
                value = self.type(rhs["type"]) if "type" in rhs else str(rhs)
                predicates.append(f"{self.type(ep['lhs'])} = {value}")
        return f" where {', '.join(predicates)}" if predicates else ""

    # Signatures.

    def function(self, it) -> str:
        f = it["inner"]["function"]
        sig = f["sig"]
        args = []
        for name, ty in sig["inputs"]:
            if name == "self":
                rendered = self.type(ty)
                if rendered == "Self":
                    args.append("self")
                elif rendered in ("&Self", "&mut Self") or (rendered.startswith("&'") and rendered.endswith(" Self")):
                    args.append(rendered[:-len("Self")] + "self")
                else:
                    args.append(f"self: {rendered}")
            else:
                args.append(f"{name}: {self.type(ty)}")
        if sig.get("is_c_variadic"):
            args.append("...")
        output = f" -> {self.type(sig['output'])}" if sig.get("output") is not None else ""
        header = self.header(f.get("header", {}))
        qualifiers = f" [{header.strip()}]" if header else ""
        return f"{self.generics(f.get('generics'))}({', '.join(args)}){output}{self.where_clause(f.get('generics'))}" \
               f"{qualifiers}"

    @staticmethod
    def non_exhaustive(it) -> str:
        for a in it.get("attrs", []):
            if (isinstance(a, str) and "non_exhaustive" in a) or (isinstance(a, dict) and "non_exhaustive" in a):
                return " #[non_exhaustive]"
        return ""

    def signature(self, it) -> str:
        """What follows the item's path on its line."""
        k = self.kind_of(it)
        inner = it["inner"][k]
        if k == "function":
            return self.function(it)
        if k == "struct":
            kind = inner["kind"]
            head = self.generics(inner.get("generics"))
            where = self.where_clause(inner.get("generics"))
            if kind == "unit":
                body = ";"
            elif "tuple" in kind:
                fields = [self.type(self.item(f)["inner"]["struct_field"]) if f is not None and self.item(f)
                          and self.item(f)["visibility"] == "public" else "_" for f in kind["tuple"]]
                body = f"({', '.join(fields)})"
            else:
                body = " { .. }" if kind["plain"].get("has_stripped_fields") else ""
            return f"{head}{body}{where}{self.non_exhaustive(it)}"
        if k == "enum":
            stripped = " { .. }" if inner.get("has_stripped_variants") else ""
            return f"{self.generics(inner.get('generics'))}{stripped}{self.where_clause(inner.get('generics'))}" \
                   f"{self.non_exhaustive(it)}"
        if k == "trait":
            supertraits = f": {self.bounds(inner['bounds'])}" if inner.get("bounds") else ""
            flags = [w for w, on in (("auto", inner.get("is_auto")), ("unsafe", inner.get("is_unsafe")),
                                     ("not dyn-compatible", inner.get("is_dyn_compatible", inner.get("is_object_safe"))
                                      is False)) if on]
            return f"{self.generics(inner.get('generics'))}{supertraits}{self.where_clause(inner.get('generics'))}" \
                   + (f" [{', '.join(flags)}]" if flags else "")
        if k == "type_alias":
            return f"{self.generics(inner.get('generics'))} = {self.type(inner['type'])}" \
                   f"{self.where_clause(inner.get('generics'))}"
        if k == "constant":
            return f": {self.type(inner['type'])}"
        if k == "static":
            return f": {'mut ' if inner.get('is_mutable') else ''}{self.type(inner['type'])}"
        if k == "assoc_const":
            return f": {self.type(inner['type'])}"
        if k == "assoc_type":
            bounds = f": {self.bounds(inner['bounds'])}" if inner.get("bounds") else ""
            default = f" = {self.type(inner['type'])}" if inner.get("type") else ""
            return f"{self.generics(inner.get('generics'))}{bounds}{default}"
        return ""

    # Members of a type or trait.

    def fields(self, ids, variant=False) -> list:
        """The public fields among `ids`; an enum variant's fields are as public as the enum (rustdoc marks them
        `default`)."""
        visible = {"public", "default"} if variant else {"public"}
        out = []
        for f in ids:
            fi = self.item(f)
            if fi and fi["visibility"] in visible:
                out.append((fi["name"], self.type(fi["inner"]["struct_field"])))
        return out

    def members(self, it, prefix):
        inner = it["inner"]
        k = self.kind_of(it)
        if k == "struct":
            kind = inner["struct"]["kind"]
            if isinstance(kind, dict) and "plain" in kind:
                for name, ty in self.fields(kind["plain"]["fields"]):
                    self.lines.add(f"field {prefix}.{name}: {ty}")
            if isinstance(kind, dict) and "tuple" in kind:
                for i, f in enumerate(kind["tuple"]):
                    fi = self.item(f)
                    if fi and fi["visibility"] == "public":
                        self.lines.add(f"field {prefix}.{i}: {self.type(fi['inner']['struct_field'])}")
        if k == "enum":
            for v in inner["enum"]["variants"]:
                vi = self.item(v)
                if not vi:
                    continue
                variant = vi["inner"]["variant"]
                vk = variant["kind"]
                if vk == "plain":
                    body = ""
                elif "tuple" in vk:
                    body = "(" + ", ".join(self.type(self.item(f)["inner"]["struct_field"]) if f is not None
                                           else "_" for f in vk["tuple"]) + ")"
                else:
                    fields = [f"{n}: {t}" for n, t in self.fields(vk["struct"]["fields"], variant=True)]
                    if vk["struct"].get("has_stripped_fields"):
                        fields.append("..")
                    body = " { " + ", ".join(fields) + " }"
                discriminant = variant.get("discriminant")
                value = f" = {discriminant['expr']}" if discriminant else ""
                self.lines.add(f"variant {prefix}::{vi['name']}{body}{value}{self.non_exhaustive(vi)}")
        if k == "trait":
            for t in inner["trait"]["items"]:
                ti = self.item(t)
                if not ti:
                    continue
                tk = self.kind_of(ti)
                has_default = ti["inner"]["function"].get("has_body") if tk == "function" else \
                    ti["inner"][tk].get("value") is not None if tk == "assoc_const" else False
                provided = " (provided)" if has_default else ""
                self.lines.add(f"trait-item {tk} {prefix}::{ti['name']}{self.signature(ti)}{provided}")
        impls = inner[k].get("impls", []) if isinstance(inner.get(k), dict) else []
        for impl_id in impls:
            impl = self.item(impl_id)
            if not impl:
                continue
            im = impl["inner"]["impl"]
            if im.get("blanket_impl") is not None:
                continue
            trait = im.get("trait")
            if trait is None:
                for m in im["items"]:
                    mi = self.item(m)
                    if mi and mi["visibility"] == "public":
                        self.lines.add(f"{self.kind_of(mi)} {prefix}::{mi['name']}{self.signature(mi)}")
                continue
            trait_name = self.name_of(trait.get("id"), trait.get("path", ""))
            if (im.get("is_synthetic") and trait_name not in AUTO_TRAITS) or trait_name in UNLISTED_IMPLS:
                continue
            negative = "!" if im.get("is_negative") else ""
            generics = self.generics(im.get("generics"))
            where = self.where_clause(im.get("generics"))
            unsafe = "unsafe " if im.get("is_unsafe") else ""
            self.lines.add(f"impl {prefix}: {unsafe}impl{generics} {negative}{self.path(trait)} for "
                           f"{self.type(im['for'])}{where}")

    # The walk from the crate root.

    def walk(self, module_id, prefix, seen, visit):
        it = self.item(module_id)
        if it is None or module_id in seen:
            return
        seen = seen | {module_id}
        for child in it["inner"]["module"]["items"]:
            ci = self.item(child)
            if ci is None or ci["visibility"] != "public":
                continue
            if self.kind_of(ci) == "use":
                use = ci["inner"]["use"]
                target = self.item(use["id"])
                if target is None:
                    # An item of another crate, which this JSON does not hold: a glob re-exports all of it.
                    name = "*" if use["is_glob"] else use["name"]
                    visit(None, None, f"{prefix}::{name}", seen, use)
                    continue
                if use["is_glob"]:
                    self.walk(use["id"], prefix, seen, visit)
                    continue
                visit(target, use["id"], f"{prefix}::{use['name']}", seen, None)
            else:
                visit(ci, child, f"{prefix}::{ci['name']}", seen, None)

    def collect_paths(self, it, ident, path, seen, use):
        if it is None:
            return
        self.paths_of.setdefault(str(ident), set()).add(path)
        if self.kind_of(it) == "module":
            self.walk(ident, path, seen, self.collect_paths)

    def add(self, it, ident, path, seen, use):
        if it is None:
            source = use["source"] + ("::*" if use["is_glob"] else "")
            self.lines.add(f"re-export {path} = {source}")
            return
        k = self.kind_of(it)
        if k == "module":
            self.lines.add(f"mod {path}")
            self.walk(ident, path, seen, self.add)
            return
        self.lines.add(f"{k} {path}{self.signature(it)}")
        self.members(it, path)

    def run(self):
        root = self.doc["root"]
        name = self.index[str(root)]["name"]
        # First every public path (types in signatures are named by them), then the lines.
        self.walk(root, name, frozenset(), self.collect_paths)
        self.walk(root, name, frozenset(), self.add)


def main():
    path = sys.argv[1]
    summary = "--summary" in sys.argv[2:]
    api = Api(json.load(open(path)))
    api.run()
    lines, paths_of = api.lines, api.paths_of
    if summary:
        kinds = Counter(line.split(" ", 1)[0] for line in lines)
        for kind, n in sorted(kinds.items()):
            print(f"{kind:12} {n}")
        types = sum(kinds[k] for k in ("struct", "enum", "trait", "type_alias", "union"))
        unique = Counter(api.kind_of(api.item(i)) for i in paths_of)
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

"""Checks that Cargo.toml's rust-version is the truth: the newest `rust-version` declared by any crate a user's
build compiles (inferwatch's normal and build dependencies, every feature, Linux), read from `cargo metadata`.
Only one toolchain can be installed here, so the minimum is derived from what the dependencies declare rather
than found by building with older compilers; the crate's own code is held to it by the same number.

    python3 scripts/msrv.py          # prints the minimum and the crates that set it; fails if Cargo.toml differs
"""

import json
import subprocess
import sys


def version(v: str) -> tuple:
    return tuple(int(p) for p in v.split("."))


def main() -> None:
    metadata = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked",
             "--filter-platform", "x86_64-unknown-linux-gnu"]
        )
    )
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = metadata["resolve"]["root"]
    # Walk normal and build edges only: dev-dependencies never reach a user's build.
    seen, stack = {root}, [root]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"} and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    declared = {
        packages[i]["name"] + " " + packages[i]["version"]: packages[i]["rust_version"]
        for i in seen - {root}
        # The workspace's own crates share its rust-version: only published dependencies set the minimum.
        if packages[i].get("rust_version") and packages[i].get("source")
    }
    newest = max(declared.values(), key=version)
    setters = sorted(name for name, v in declared.items() if version(v) == version(newest))
    ours = packages[root].get("rust_version")
    print(
        f"rust-version: {len(seen) - 1} dependencies, {len(declared)} declare one; the newest is {newest} "
        f"({', '.join(setters)}); Cargo.toml says {ours}"
    )
    if ours is None or version(ours)[:2] < version(newest)[:2]:
        sys.exit(f"Cargo.toml's rust-version {ours} is below {newest}, which {', '.join(setters)} require")
    if version(ours)[:2] > version(newest)[:2]:
        sys.exit(f"Cargo.toml's rust-version {ours} is above what any dependency needs ({newest}): lower it, or say "
                 "in Cargo.toml which language feature of the crate's own code needs it and drop this check")

if __name__ == "__main__":
    main()

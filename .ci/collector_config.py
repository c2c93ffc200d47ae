"""Checks the fleet's OpenTelemetry Collector configurations as far as can be done without the collector: no
otelcol-contrib binary can be installed here (its releases are on GitHub and Docker Hub; the only one on PyPI is
a five-component test build without tail sampling).

    python3 .ci/collector_config.py examples/observability/fleet/collector-*.yml

Checked: the YAML parses; every component's type is in the contrib distribution (.ci/otelcol-contrib-components.txt,
from the distribution's manifest); pipelines name only configured components of the right kind, and every
configured component is used; memory_limiter comes first; tail sampling's policies are of known types, each with
its own settings, and their numbers valid once the ${env:NAME:-default} defaults are put in; the gateway keeps
errors, slow traces at the latency objective SloRules renders by default (20.48 s), and a share of the rest.
Not checked: each component's own settings beyond these (the binary's `validate` would), and behaviour.
"""

import re
import sys
from pathlib import Path

import yaml

KINDS = ("receivers", "processors", "exporters", "extensions", "connectors")
COMPONENTS = Path(__file__).resolve().parent / "otelcol-contrib-components.txt"
# The tail sampling processor's policy types (processor/tailsamplingprocessor/config.go).
POLICY_TYPES = {
    "always_sample", "latency", "numeric_attribute", "probabilistic", "status_code", "string_attribute",
    "rate_limiting", "span_count", "boolean_attribute", "ottl_condition", "trace_state", "composite", "and", "drop",
    "bytes_limiting",
}
LATENCY_OBJECTIVE_MS = 20480
ENV = re.compile(r"\$\{env:(\w+)(?::-([^}]*))?\}")


def defaults(text: str) -> str:
    """The configuration as the collector reads it with none of its environment variables set."""
    def substitute(m):
        if m.group(2) is None:
            raise SystemExit(f"${{env:{m.group(1)}}} has no default")
        return m.group(2)

    return ENV.sub(substitute, text)


def contrib_modules() -> set:
    lines = [l.split() for l in COMPONENTS.read_text().splitlines() if l and not l.startswith("#")]
    return {(kind + "s", module) for kind, module in lines}


def module(kind: str, component_id: str) -> str:
    """The Go module of a component: its type without underscores, then its kind (tail_sampling/x ->
    tailsamplingprocessor)."""
    return component_id.split("/")[0].replace("_", "") + kind[:-1]


def structure(config: dict, ships) -> list:
    """Problems in the shape of an OpenTelemetry Collector configuration (this distribution's, or Jaeger v2, which is
    one): a component the distribution does not ship (`ships(kind, id)` says), a pipeline naming a component that
    is not configured, a configured component in no pipeline, memory_limiter not first."""
    problems = []
    configured = {kind: set((config.get(kind) or {}).keys()) for kind in KINDS}
    for kind, ids in configured.items():
        for cid in ids:
            if not ships(kind, cid):
                problems.append(f"{kind[:-1]} {cid}: not a component of the distribution")
    service = config.get("service") or {}
    used = {kind: set() for kind in KINDS}
    for ext in service.get("extensions", []):
        used["extensions"].add(ext)
        if ext not in configured["extensions"]:
            problems.append(f"service.extensions names {ext}, which is not configured")
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("no pipelines")
    for name, pipeline in pipelines.items():
        if name.split("/")[0] not in ("traces", "metrics", "logs"):
            problems.append(f"pipeline {name}: not traces, metrics or logs")
        for kind in ("receivers", "processors", "exporters"):
            for cid in pipeline.get(kind, []):
                used[kind].add(cid)
                if cid not in configured[kind]:
                    problems.append(f"pipeline {name}: {kind[:-1]} {cid} is not configured")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problems.append(f"pipeline {name}: needs receivers and exporters")
        processors = pipeline.get("processors", [])
        if "memory_limiter" in configured["processors"] and processors[:1] != ["memory_limiter"]:
            problems.append(f"pipeline {name}: memory_limiter must come first")
    for kind in KINDS:
        for cid in configured[kind] - used[kind]:
            problems.append(f"{kind[:-1]} {cid} is configured but in no pipeline")
    return problems


def check(path: Path, modules: set) -> list:
    config = yaml.safe_load(defaults(path.read_text()))
    problems = structure(config, lambda kind, cid: (kind, module(kind, cid)) in modules)
    tail = (config.get("processors") or {}).get("tail_sampling")
    if tail is not None:
        problems += check_tail_sampling(tail)
    return problems


def check_tail_sampling(tail: dict) -> list:
    problems = []
    if not re.fullmatch(r"\d+(ms|s|m)", str(tail.get("decision_wait", ""))):
        problems.append(f"tail_sampling.decision_wait {tail.get('decision_wait')!r} is not a duration")
    kept = {}
    for policy in tail.get("policies", []):
        kind = policy.get("type")
        if kind not in POLICY_TYPES:
            problems.append(f"tail_sampling policy {policy.get('name')}: unknown type {kind}")
            continue
        settings = set(policy) - {"name", "type"}
        if settings != ({kind} if kind != "always_sample" else set()):
            problems.append(f"tail_sampling policy {policy.get('name')}: settings {settings} for type {kind}")
        kept[kind] = policy.get(kind) or {}
    if kept.get("status_code", {}).get("status_codes") != ["ERROR"]:
        problems.append("the gateway must keep every trace with an error (status_code [ERROR])")
    threshold = kept.get("latency", {}).get("threshold_ms")
    if threshold != LATENCY_OBJECTIVE_MS:
        problems.append(f"latency threshold_ms {threshold!r} is not the latency objective ({LATENCY_OBJECTIVE_MS})")
    share = kept.get("probabilistic", {}).get("sampling_percentage")
    if not isinstance(share, (int, float)) or not 0 < share < 100:
        problems.append(f"probabilistic sampling_percentage {share!r} is not a share of the rest")
    return problems


def main() -> None:
    modules = contrib_modules()
    failed = False
    for arg in sys.argv[1:]:
        problems = check(Path(arg), modules)
        for p in problems:
            print(f"{arg}: {p}")
        failed |= bool(problems)
        if not problems:
            tail = "tail_sampling:" in Path(arg).read_text()
            print(f"{arg}: components in otelcol-contrib, pipelines complete" + (", sampling policies valid" * tail))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

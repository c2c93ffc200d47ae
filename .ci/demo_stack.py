"""Checks the traced demo's files as far as can be done without Docker: everything parses; every file a service
mounts exists; images are pinned; Jaeger's pipelines use only components that are defined and that Jaeger v2
ships, and every defined one; every Grafana data source a dashboard, a panel link or another data source names
exists; the links between traces and logs are there.

    python3 .ci/demo_stack.py examples/observability
"""

import json
import re
import sys
from pathlib import Path

import yaml

from collector_config import structure

# Component types of the Jaeger v2 binary (cmd/jaeger/internal/components.go) that this demo may use.
JAEGER_COMPONENTS = {
    "receivers": {"otlp", "jaeger", "zipkin", "kafka"},
    "processors": {"batch", "memory_limiter"},
    "exporters": {"debug", "otlp", "otlphttp", "jaeger_storage_exporter", "kafka"},
    "extensions": {"jaeger_storage", "jaeger_query", "zpages", "healthcheckv2", "remote_sampling"},
}


def fail(message: str) -> None:
    print(f"demo stack: {message}")
    sys.exit(1)


def compose(root: Path) -> dict:
    spec = yaml.safe_load((root / "docker-compose.yml").read_text())
    for name, service in spec["services"].items():
        image = service.get("image", "")
        if not re.search(r":v?\d+\.\d+\.\d+$", image):
            fail(f"{name}: image {image!r} is not pinned to a version")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (root / source).exists():
                fail(f"{name} mounts {source}, which does not exist")
    return spec


def jaeger(root: Path) -> None:
    # Jaeger v2 is an OpenTelemetry Collector: its configuration has the same shape as the fleet's collectors'.
    config = yaml.safe_load((root / "jaeger.yml").read_text())
    for problem in structure(config, lambda kind, name: name.split("/")[0] in JAEGER_COMPONENTS.get(kind, set())):
        fail(f"jaeger.yml: {problem}")
    if "logs" not in config["service"]["pipelines"]:
        fail("jaeger.yml: no logs pipeline: log records would not reach Loki")


def grafana(root: Path) -> None:
    sources = yaml.safe_load((root / "grafana/provisioning/datasources/datasources.yml").read_text())["datasources"]
    uids = {s["uid"]: s["type"] for s in sources}
    for wanted in ("prometheus", "jaeger", "loki"):
        if uids.get(wanted) != wanted:
            fail(f"no {wanted} data source with uid {wanted}")
    named = []
    for source in sources:
        data = source.get("jsonData", {})
        if "tracesToLogsV2" in data:
            named.append((source["uid"], data["tracesToLogsV2"]["datasourceUid"]))
        for field in data.get("derivedFields", []):
            named.append((source["uid"], field["datasourceUid"]))
    jaeger_links = data_of(sources, "jaeger").get("tracesToLogsV2", {})
    if jaeger_links.get("datasourceUid") != "loki" or not jaeger_links.get("filterByTraceID"):
        fail("Jaeger does not link a span to its logs in Loki by trace id")
    if not any(f.get("datasourceUid") == "jaeger" for f in data_of(sources, "loki").get("derivedFields", [])):
        fail("Loki does not link a log line's trace_id to Jaeger")
    dashboard = json.loads((root / "grafana/dashboards/inferwatch.json").read_text())
    linked_to_logs = 0
    for panel in dashboard["panels"]:
        for target in [panel] + panel.get("targets", []):
            uid = (target.get("datasource") or {}).get("uid")
            if uid:
                named.append((f"panel {panel['title']!r}", uid))
        for link in panel.get("links", []):
            for uid in re.findall(r'"datasource":"([^"]+)"', urllib_unquote(link["url"])):
                named.append((f"link of {panel['title']!r}", uid))
                linked_to_logs += uid == "loki"
    for who, uid in named:
        if uid not in uids:
            fail(f"{who} names data source {uid!r}, which is not provisioned")
    if linked_to_logs < 2:
        fail("the latency and error panels should link to their logs in Loki")
    print(f"demo stack: {len(uids)} data sources, {len(named)} references to them, all provisioned; "
          f"{linked_to_logs} panel links to Loki")


def data_of(sources: list, uid: str) -> dict:
    return next(s for s in sources if s["uid"] == uid).get("jsonData", {})


def urllib_unquote(url: str) -> str:
    from urllib.parse import unquote
    return unquote(url)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/observability")
    spec = compose(root)
    yaml.safe_load((root / "loki.yml").read_text())
    jaeger(root)
    grafana(root)
    print(f"demo stack: {len(spec['services'])} services, images pinned, mounts present, Jaeger pipelines valid")


if __name__ == "__main__":
    main()

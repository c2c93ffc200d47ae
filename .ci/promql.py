"""The one Prometheus HTTP API call the CI checks make: an instant query's result vector."""

import json
import urllib.parse
import urllib.request


def query(base: str, promql: str) -> list:
    """The `result` of an instant query of `promql` against the Prometheus at `base`; fails on an error status."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]

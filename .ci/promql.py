"""The Prometheus HTTP API calls the CI checks make: an instant query's result vector, and the alerts."""

import json
import urllib.parse
import urllib.request

from checks import check


def query(base: str, promql: str) -> list:
    """The `result` of an instant query of `promql` against the Prometheus at `base`; fails on an error status."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url) as response:
        body = json.load(response)
    check(body["status"] == "success", body)
    return body["data"]["result"]


def alerts(base: str) -> list:
    """Every pending or firing alert of the Prometheus at `base`."""
    with urllib.request.urlopen(f"{base}/api/v1/alerts") as response:
        return json.load(response)["data"]["alerts"]

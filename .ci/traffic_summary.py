"""Reads the closing summary the traffic generator (examples/traffic) prints; shared by the CI checks."""

import re
from collections import Counter
from typing import NamedTuple


class Summary(NamedTuple):
    sent: int
    outcomes: Counter
    output_tokens: int


def read(path: str) -> Summary:
    text = open(path).read()
    return Summary(
        sent=int(re.search(r"^requests: (\d+)", text, re.M).group(1)),
        outcomes=Counter({k: int(v) for k, v in re.findall(r"^  (\w+) +(\d+)$", text, re.M)}),
        output_tokens=int(re.search(r"^output tokens: (\d+)", text, re.M).group(1)),
    )


def replicas(path: str) -> dict:
    """Requests sent to each replica, by its address, when the generator was given several URLs."""
    return {m[0]: int(m[1]) for m in re.findall(r"^replica http://(\S+): (\d+)$", open(path).read(), re.M)}

"""The CI scripts' assertion: `check(condition, message)` raises SystemExit (status 1, the message on stderr) when
the condition is false. Unlike `assert`, `python3 -O` and PYTHONOPTIMIZE cannot turn it off."""


def check(condition, message="") -> None:
    if not condition:
        raise SystemExit(f"check failed: {message}")

"""Talks to examples/axum_server with the official OpenAI Python client, unmodified, and checks what comes back.

    cargo run --example axum_server --features full &
    pip install openai
    python3 examples/clients/openai_client.py --base-url http://127.0.0.1:8080/v1
"""

import argparse
import json
import urllib.error
import urllib.request

import openai


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key="not-needed", max_retries=0)

    models = [m.id for m in client.models.list()]
    assert models == ["toy", "toy-large"], models

    completion = client.completions.create(model="toy", prompt="Say hello to the world", max_tokens=5)
    assert completion.object == "text_completion", completion
    assert completion.usage.prompt_tokens == 5 and completion.usage.completion_tokens == 5, completion.usage
    assert completion.choices[0].finish_reason == "length", completion
    assert len(completion.choices[0].text.split()) == 5, completion

    chat = client.chat.completions.create(
        model="toy-large",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_tokens=3,
    )
    assert chat.object == "chat.completion", chat
    assert chat.choices[0].message.role == "assistant", chat
    assert chat.usage.completion_tokens == 3, chat.usage
    # "system: Be brief." and "user: Hello there": 6 whitespace tokens.
    assert chat.usage.prompt_tokens == 6, chat.usage

    stream = client.chat.completions.create(
        model="toy",
        messages=[{"role": "user", "content": "stream a few words please"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 4, text
    assert chunks[0].choices[0].delta.role == "assistant", chunks[0]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4, chunks[-1]
    assert all(c.usage is None for c in chunks[:-1]), "usage only in the last chunk"

    plain = list(client.completions.create(model="toy", prompt="one two", max_tokens=3, stream=True))
    assert [c.choices[0].finish_reason for c in plain][-1] == "length", plain
    assert all(c.usage is None for c in plain), "no usage chunk unless asked for"

    for call, expected in [
        (lambda: client.completions.create(model="gpt-404", prompt="x"), openai.NotFoundError),
        (lambda: client.completions.create(model="toy", prompt="x", max_tokens=0), openai.BadRequestError),
        (lambda: client.chat.completions.create(model="toy", messages=[]), openai.BadRequestError),
        (lambda: client.completions.create(model="toy", prompt="x" * (2 << 20)), openai.APIStatusError),
    ]:
        try:
            call()
        except expected as error:
            assert error.body is None or "message" in error.body, error.body
            print(f"expected error: {error.status_code} {type(error).__name__}")
        else:
            raise AssertionError(f"{expected.__name__} expected")

    # Malformed and wrongly typed bodies, sent raw.
    base = args.base_url.rstrip("/")
    for body, status in [
        (b"{broken", 400),
        (json.dumps({"model": "toy", "max_tokens": "many"}).encode(), 422),
        (json.dumps({"model": "toy", "prompt": "x" * (2 << 20)}).encode(), 413),
    ]:
        code, answer = post(f"{base}/completions", body)
        assert code == status and "message" in answer["error"], (code, answer)
    print("openai client: all checks passed")


if __name__ == "__main__":
    main()

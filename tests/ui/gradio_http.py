"""Talking to a launched `grounded serve` the way any HTTP client can: Gradio's routes, no browser.

client(headers)                          an httpx client that never uses a proxy
upload(url, [(name, bytes)], headers)    POST /gradio_api/upload -> the server's temp paths
fn_index(url, "upload", headers)         an event's index in /config (private events too)
run_event(url, fn, data, headers)        queue/join + queue/data until done -> the final output values
ask(url, question, headers)              POST /gradio_api/call/ask, then read its result
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

TIMEOUT = 300.0  # an upload's ingest on a busy 2-core CI machine


def client(headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, trust_env=False, headers=headers or {})


def upload(url: str, files: list[tuple[str, bytes]], headers: dict[str, str] | None = None) -> list[str]:
    with client(headers) as c:
        r = c.post(url + "gradio_api/upload", files=[("files", (name, data)) for name, data in files])
        r.raise_for_status()
        return r.json()


def config(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    with client(headers) as c:
        r = c.get(url + "config")
        r.raise_for_status()
        return r.json()


def fn_index(url: str, api_name: str, headers: dict[str, str] | None = None) -> tuple[int, int | None]:
    """(fn_index, trigger id) of the first event whose api_name is `api_name`."""
    for dep in config(url, headers)["dependencies"]:
        if dep.get("api_name") == api_name:
            trigger = dep["targets"][0][0] if dep["targets"] else None
            return dep["id"], trigger
    raise AssertionError(f"no event {api_name!r} in /config")


def file_data(path: str) -> dict[str, Any]:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": path.rsplit("/", 1)[-1]}


def run_event(
    url: str,
    fn: tuple[int, int | None],
    data: list[Any],
    headers: dict[str, str] | None = None,
    session: str | None = None,
) -> list[Any]:
    """Run one event through the queue as the browser does; the output values it completed with."""
    session = session or uuid.uuid4().hex
    with client(headers) as c:
        body = {"data": data, "fn_index": fn[0], "trigger_id": fn[1], "session_hash": session, "event_data": None}
        r = c.post(url + "gradio_api/queue/join", json=body)
        r.raise_for_status()
        with c.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        raise AssertionError(f"event {fn} failed: {msg.get('output')}")
                    return msg["output"]["data"]
    raise AssertionError(f"event {fn} never completed")


def ask(url: str, question: str, headers: dict[str, str] | None = None, include_trace: bool = False) -> dict[str, Any]:
    """The `/ask` endpoint over plain HTTP (Gradio's call API): the answer's JSON object."""
    with client(headers) as c:
        r = c.post(url + "gradio_api/call/ask", json={"data": [question, include_trace, []]})
        r.raise_for_status()
        event = r.json()["event_id"]
        with c.stream("GET", url + f"gradio_api/call/ask/{event}") as stream:
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind in ("complete", "error"):
                    if kind == "error":
                        raise AssertionError(f"/ask failed: {line[5:]}")
                    return json.loads(line[5:])[0]
    raise AssertionError("/ask gave no result")

"""A loopback fake of the Slack Web API: a real aiohttp server on 127.0.0.1, so that the real
slack_sdk client, its HTTP handling and its errors are what the tests exercise.

It runs on a thread with its own event loop, so sync fixtures and async tests can both use
it. Every call is recorded; faults are injected per method, the next call(s) first.

It also speaks Socket Mode: `apps.connections.open` (with the app-level token) gives the URL
of its WebSocket, and `push` sends an envelope over it as Slack does and returns the app's ack.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"  # the app-level token Socket Mode connects with
JSON_PARAMS = ("blocks", "view", "files", "attachments", "metadata")  # form-encoded callers send JSON text


@dataclass
class Call:
    method: str  # "chat.postMessage", or "upload" for the bytes sent to an upload URL
    params: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    status: int = 200  # what the fake answered
    error: str = ""  # the `error` of an ok:false answer


@dataclass
class Fault:
    status: int = 200
    retry_after: int | None = None
    timeout: float = 0  # seconds to sleep before answering (longer than the client waits)
    error: str = ""
    times: int = 1
    disconnect: bool = False  # drop the connection unanswered, as a reset does
    after: int = 0  # calls that go through before the fault starts
    acted: bool = False  # the method does its work first, then its answer is lost or fails


@dataclass
class FakeSlackApi:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, ts)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id → bytes received
    members: dict[str, list[str]] = field(default_factory=dict)  # channel → user ids
    people: dict[str, str] = field(default_factory=dict)  # user id → display name
    port: int = 0
    app_token: str = APP_TOKEN

    def __post_init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: list[tuple[str, str]] = []  # see items()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []  # Socket Mode connections, newest last
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}  # envelope id → the app's ack

    # --- control, from any thread --------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> Self:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-slack", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def fail_next(self, method: str, *, status: int = 200, retry_after: int | None = None,
                  timeout: float = 0, error: str = "", times: int = 1,
                  disconnect: bool = False, after: int = 0, acted: bool = False) -> None:
        """The next `times` calls of `method` ("*": any method, "upload": the upload URL),
        after `after` that go through, fail: with an HTTP status, a sleep of `timeout`
        seconds, a dropped connection, or `ok: false` with `error`. With `acted`, Slack does
        what was asked before the answer goes wrong (a message is posted all the same)."""
        fault = Fault(status, retry_after, timeout, error, times, disconnect, after, acted)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def recover(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls_to(self, method: str, ok_only: bool = False) -> list[Call]:
        return [c for c in self.calls
                if c.method == method and not (ok_only and (c.status != 200 or c.error))]

    async def push(self, kind: str, payload: dict[str, Any], *, retry: int = 0,
                   timeout: float = 10) -> dict[str, Any]:
        """Send a Socket Mode envelope ("slash_commands", "interactive", "events_api") over the
        app's connection and wait for its ack; returns the ack's payload (e.g. a modal's errors).
        Call it from the test's event loop: the app answering it may run on that loop."""
        assert self._loop is not None
        pushed = asyncio.run_coroutine_threadsafe(self._push(kind, payload, retry), self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(pushed), timeout)

    # --- the server ------------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some (users.info) with GET
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        app.on_shutdown.append(self._close_sockets)
        # handler_cancellation: a request whose client timed out stops sleeping at once
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def _fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method) or self._faults.get("*")
            if not queue:
                return None
            fault = queue[0]
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    def _record(self, request: web.Request, method: str, params: dict[str, Any]) -> Call:
        self.calls.append(call := Call(method, params, dict(request.headers), time.monotonic()))
        return call

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = self._record(request, method, await _params(request))
        token = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {token}":
            return self._answer(call, {"ok": False, "error": "invalid_auth"})
        fault = self._fault(method)
        if fault and not fault.acted:
            return await self._failure(request, call, fault)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return self._answer(call, {"ok": False, "error": "unknown_method"})
        answer = {"ok": True, **handler(call.params)}
        if fault:
            return await self._failure(request, call, fault)
        return self._answer(call, answer)

    def items(self) -> list[tuple[str, str]]:
        """(channel, "item/part") of each message posted with an outbox item in its metadata,
        in order, answered or not: the same pair twice is a message people saw twice."""
        return list(self._items)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        data, file_id = await request.read(), request.match_info["file_id"]
        call = self._record(request, "upload", {"file_id": file_id, "size": len(data)})
        if fault := self._fault("upload"):
            return await self._failure(request, call, fault)
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")  # text/plain, as Slack's upload host

    async def _failure(self, request: web.Request, call: Call, fault: Fault) -> web.StreamResponse:
        call.status = 0  # no answer (yet)
        if fault.disconnect and request.transport is not None:
            request.transport.close()
            return web.Response()  # never arrives
        await asyncio.sleep(fault.timeout)  # the client may give up first
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        call.status = fault.status
        if fault.status == 429:
            call.error = fault.error or "ratelimited"
            return web.json_response({"ok": False, "error": call.error}, status=429, headers=headers)
        if fault.status >= 500:  # what a load balancer in trouble sends: not JSON
            return web.Response(status=fault.status, text=f"<html>{fault.status}</html>",
                                content_type="text/html", headers=headers)
        return self._answer(call, {"ok": False, "error": fault.error or "fatal_error"})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets),
                                "connection_info": {"app_id": "A-fake"}})
        async for frame in socket:
            ack = json.loads(frame.data)
            waiting = self._acks.pop(str(ack.get("envelope_id", "")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(ack)
        self._sockets.remove(socket)
        return socket

    async def _close_sockets(self, _: web.Application) -> None:
        for socket in list(self._sockets):
            await socket.close()

    async def _push(self, kind: str, payload: dict[str, Any], retry: int) -> dict[str, Any]:
        for _ in range(500):  # the app connects when its server starts: give it a moment
            if self._sockets:
                break
            await asyncio.sleep(0.01)
        envelope_id = f"env-{next(self._ids)}"
        acked = self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        await self._sockets[-1].send_json({
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry, "retry_reason": "timeout" if retry else ""})
        return dict((await acked).get("payload") or {})

    @staticmethod
    def _answer(call: Call, body: dict[str, Any]) -> web.Response:
        call.error = "" if body.get("ok") else str(body.get("error", ""))
        return web.json_response(body)

    # --- the methods: each returns its answer, without "ok" (or with "ok": False) -----------

    def _ts(self) -> str:
        return f"1700000000.{next(self._ids) * 100:06d}"

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/socket"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "team_id": "T0001",
                "user": "ambition-bot", "user_id": "UBOT", "bot_id": "BBOT"}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params["channel"], self._ts()
        self.messages[(channel, ts)] = params
        if isinstance(meta := params.get("metadata"), dict):
            item = meta.get("event_payload", {})
            self._items.append((channel, f'{item.get("item")}/{item.get("part", 0)}'))
        return {"channel": channel, "ts": ts, "message": {**params, "ts": ts}}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        if (key := (params["channel"], params["ts"])) not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = params
        return {"channel": params["channel"], "ts": params["ts"], "text": params.get("text", "")}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, as Slack; metadata only when asked for with include_all_metadata."""
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [{"ts": ts, "text": message.get("text", ""),
                  **({"metadata": message["metadata"]} if with_meta and "metadata" in message else {})}
                 for (channel, ts), message in self.messages.items() if channel == params["channel"]]
        found.sort(key=lambda m: m["ts"], reverse=True)
        return {"messages": found[:int(params.get("limit") or 100)], "has_more": False}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": params["users"]}}  # here a DM is known by its person's id

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._ts()}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": f"V{next(self._ids):04d}", **params["view"]}}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": params.get("view_id", "V0000"), **params["view"]}}

    def _conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = f"C{next(self._ids):06d}"
        self.members[channel] = ["UBOT"]
        return {"channel": {"id": channel, "name": params["name"],
                            "is_private": params.get("is_private") in (True, "1", "true")}}

    def _conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        self.members.setdefault(params["channel"], []).extend(str(params["users"]).split(","))
        return {"channel": {"id": params["channel"]}}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"members": self.members.get(params["channel"], []),
                "response_metadata": {"next_cursor": ""}}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params["user"]
        name = self.people.get(user, f"User {user}")
        return {"user": {"id": user, "name": user.lower(), "real_name": name, "tz": "Europe/Copenhagen",
                         "profile": {"display_name": name, "real_name": name}}}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        return {"file_id": file_id, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}"}

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"files": [{"id": f["id"], "title": f.get("title", ""), "name": f.get("title", ""),
                           "size": len(self.uploads.get(f["id"], b""))} for f in params["files"]]}


async def _params(request: web.Request) -> dict[str, Any]:
    """Query string, form or JSON body, merged: slack_sdk uses each for some method."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in JSON_PARAMS:
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params

"""Real HTTP servers for the web integration tests: uvicorn (ASGI) and waitress (WSGI),
each on a free loopback port in a thread, plus what the tests share (a Set-Cookie
parser, an asynchronous adapter over the synchronous manager, a store that can fail)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import sessions
from _support import DictStore


@contextlib.contextmanager
def uvicorn_server(app) -> Iterator[str]:
    """Serves the ASGI `app` with uvicorn on 127.0.0.1 (a port the OS picks); yields
    the base URL and stops the server on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextlib.contextmanager
def waitress_server(app) -> Iterator[str]:
    """Serves the WSGI `app` with waitress (8 threads) on 127.0.0.1; yields the base URL."""
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    closing = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except OSError:  # the listening socket closed under select() while stopping
            if not closing.is_set():
                raise

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        closing.set()
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(30)


@dataclass
class SetCookie:
    """One parsed Set-Cookie header."""

    name: str
    value: str
    attributes: dict[str, str] = field(default_factory=dict)  # lower-cased names
    raw: str = ""


def set_cookies(response) -> list[SetCookie]:
    """The response's Set-Cookie headers, parsed."""
    found = []
    for raw in response.headers.get_list("set-cookie"):
        first, *rest = raw.split(";")
        name, _, value = first.strip().partition("=")
        attributes = {}
        for part in rest:
            key, _, val = part.strip().partition("=")
            attributes[key.lower()] = val
        found.append(SetCookie(name, value, attributes, raw))
    return found


def only_cookie(response) -> SetCookie:
    cookies = set_cookies(response)
    assert len(cookies) == 1, [c.raw for c in cookies]
    return cookies[0]


class AsyncAdapter:
    """An asynchronous manager of the kind `sessions.asgi` accepts besides the
    synchronous one: the same method names, as coroutines (each call runs the
    synchronous manager in a worker thread)."""

    def __init__(self, manager: sessions.SessionManager) -> None:
        self.sync = manager
        self.calls = 0

    async def _run(self, name, *args):
        self.calls += 1
        return await asyncio.to_thread(getattr(self.sync, name), *args)

    async def create(self, options):
        return await self._run("create", options)

    async def validate(self, token, user_agent=None):
        return await self._run("validate", token, user_agent)

    async def refresh(self, token, user_agent=None):
        return await self._run("refresh", token, user_agent)

    async def destroy(self, session_id):
        return await self._run("destroy", session_id)

    async def destroy_all_for_user(self, user_id):
        return await self._run("destroy_all_for_user", user_id)


class FlakyStore(DictStore):
    """A DictStore whose token look-ups and inserts fail while `down` is set."""

    def __init__(self):
        super().__init__()
        self.down = False

    def find_by_token_hash(self, token_hash):
        if self.down:
            raise OSError("the store's server is unreachable")
        return super().find_by_token_hash(token_hash)

    def insert(self, session):
        if self.down:
            raise OSError("the store's server is unreachable")
        return super().insert(session)


class Rotations(sessions.SessionListener):
    """Counts ROTATED events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rotated = 0

    def on_event(self, event):
        if event.is_rotated():
            with self.lock:
                self.rotated += 1

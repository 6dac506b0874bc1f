"""The package ships its type stubs, and the README's Python examples run as written
(bindings/python/test.sh also checks them, and the stubs, with mypy --strict and
stubtest)."""

import contextlib
import importlib.resources
import io
import os
import pathlib
import runpy

import sessions

TYPING = pathlib.Path(__file__).resolve().parent / "typing"


def test_the_wheel_ships_the_stubs():
    package = importlib.resources.files("sessions")
    stub = package.joinpath("__init__.pyi").read_text()
    assert package.joinpath("py.typed").is_file()
    assert "class SessionManager:" in stub and "class InvalidToken(SessionError):" in stub
    for name in sessions.__all__:
        assert f"class {name}" in stub or f"def {name}(" in stub, name


def test_readme_example_runs(tmp_path):
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(TYPING / "readme_example.py"), run_name="readme")
    finally:
        os.chdir(cwd)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("True 20") and lines[0].endswith("+00:00")
    assert lines[1] == str(sessions.SessionError.InvalidToken())
    assert lines[2] == "1 1"
    assert '"user_id": "alice"' in lines[3]
    assert (tmp_path / "sessions.sqlite").is_file()


def test_readme_web_handler_answers(tmp_path):
    from fastapi.testclient import TestClient

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            example = runpy.run_path(str(TYPING / "readme_example.py"), run_name="readme")
    finally:
        os.chdir(cwd)
    manager, client = example["manager"], TestClient(example["app"])
    s = manager.create(sessions.CreateSessionOptions(user_id="carol", metadata={"userAgent": "curl"}))
    headers = {"Authorization": f"Bearer {s.token}", "User-Agent": "curl"}
    body = client.get("/me", headers=headers).json()
    assert body == {"id": s.id, "user_id": "carol", "created_at": s.created_at.isoformat().replace("+00:00", "Z"),
                    "expires_at": s.expires_at.isoformat().replace("+00:00", "Z"),
                    "metadata": {"userAgent": "curl"}}
    assert client.get("/me", headers={**headers, "User-Agent": "other"}).status_code == 401
    assert client.get("/me", headers={**headers, "Authorization": "Bearer nope"}).status_code == 401


def test_host_classes_example_runs():
    with contextlib.redirect_stdout(io.StringIO()) as out:
        runpy.run_path(str(TYPING / "host_classes.py"), run_name="host_classes")
    assert "ListStore does not implement find_by_token_hash()" in out.getvalue()
    assert "the session has expired" in out.getvalue()  # validate_session reads the system clock


def test_constructors_return_the_package_manager(tmp_path):
    from _support import DictStore

    config = sessions.SessionConfig()
    for manager in (sessions.SessionManager(config),
                    sessions.SessionManager.open(str(tmp_path / "s.sqlite"), config),
                    sessions.SessionManager.with_store(config, DictStore())):
        assert type(manager) is sessions.SessionManager

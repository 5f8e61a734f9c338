"""API keys: parsing, hashing, and the 401/403 answers of a small FastAPI app guarded by them."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import pickle
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from service.security import ApiKeys, Role, generate_key, hash_key, read_access, require

WRITE_KEY = "w-" + "x" * 30
READ_KEY = "r-" + "y" * 30


def make_app(keys: ApiKeys) -> FastAPI:
    """A tiny app: GET /things needs read access, POST /things write access."""
    app = FastAPI()
    app.state.api_keys = keys
    reads = APIRouter(dependencies=[read_access])
    writes = APIRouter(dependencies=[Depends(require(Role.WRITE))])

    @reads.get("/things")
    def list_things() -> list[str]:
        return ["a"]

    @writes.post("/things")
    def add_thing() -> dict[str, str]:
        return {"added": "b"}

    app.include_router(reads)
    app.include_router(writes)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(ApiKeys.parse(f"{WRITE_KEY}:write,{READ_KEY}:read", "test")))


def test_missing_key_is_401_with_www_authenticate(client: TestClient) -> None:
    response = client.get("/things")
    assert response.status_code == 401
    assert "missing API key" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_key_is_401(client: TestClient) -> None:
    response = client.get("/things", headers={"X-API-Key": "not-a-key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"


def test_read_key_reads_but_cannot_write(client: TestClient) -> None:
    assert client.get("/things", headers={"X-API-Key": READ_KEY}).status_code == 200
    response = client.post("/things", headers={"X-API-Key": READ_KEY})
    assert response.status_code == 403
    assert "write access is needed" in response.json()["detail"]


def test_write_key_writes_and_reads_also_as_bearer(client: TestClient) -> None:
    assert client.post("/things", headers={"X-API-Key": WRITE_KEY}).json() == {"added": "b"}
    assert client.get("/things", headers={"Authorization": f"Bearer {WRITE_KEY}"}).status_code == 200
    assert client.get("/things", headers={"Authorization": f"Basic {WRITE_KEY}"}).status_code == 401


def test_no_keys_configured_refuses_everything() -> None:
    assert TestClient(make_app(ApiKeys())).get("/things", headers={"X-API-Key": READ_KEY}).status_code == 401


def test_prehashed_keys_from_a_file_work(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    read_hex = hash_key(READ_KEY).removeprefix("sha256:").upper()  # hex case and role case do not matter
    keys_file.write_text(f"# hashed keys\n{hash_key(WRITE_KEY)}:write\n\n  sha256:{read_hex}:READ  # UI\n")
    assert WRITE_KEY not in keys_file.read_text()
    keys = ApiKeys.load(None, keys_file)
    assert keys.role_of(WRITE_KEY) is Role.WRITE
    assert keys.role_of(READ_KEY) is Role.READ
    client = TestClient(make_app(keys))
    assert client.post("/things", headers={"X-API-Key": WRITE_KEY}).status_code == 200
    assert client.post("/things", headers={"X-API-Key": READ_KEY}).status_code == 403


def test_load_merges_environment_and_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"{READ_KEY}:read\n")
    keys = ApiKeys.load(f"{WRITE_KEY}:write", keys_file)
    assert (keys.role_of(WRITE_KEY), keys.role_of(READ_KEY)) == (Role.WRITE, Role.READ)
    assert not ApiKeys.load(None, None)
    assert keys
    with pytest.raises(ValueError, match="both as write and as read"):
        ApiKeys.load(f"{READ_KEY}:write", keys_file)
    with pytest.raises(ValueError, match="cannot read the API keys file"):
        ApiKeys.load(None, tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("good:read,secret-one:admin", r"keys.txt: API key entry 2 \(line 1\): unknown role 'admin'"),
        ("good:read\n# note\n:write", r"keys.txt: API key entry 2 \(line 3\): empty key"),
        ("a:read,b:write\nsha256:abc123:write", r"entry 3 \(line 2\): bad sha256 hex"),
        (f"sha256:{'g' * 64}:read", r"entry 1 \(line 1\): bad sha256 hex"),
        ("no-role-here", r"entry 1 \(line 1\): expected KEY:ROLE"),
    ],
)
def test_bad_entries_name_source_entry_and_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        ApiKeys.parse(text, "keys.txt")
    assert "secret-one" not in str(raised.value)


def test_blank_entries_and_comments_are_ignored() -> None:
    keys = ApiKeys.parse("\n  # only comments\n a#b:read , ,\n", "env")
    assert keys.role_of("a#b") is Role.READ
    assert len(keys.hashes) == 1


def test_to_env_round_trips_without_plaintext() -> None:
    keys = ApiKeys.parse(f"{WRITE_KEY}:write\n{READ_KEY}:read", "env")
    env = keys.to_env()
    assert WRITE_KEY not in env and READ_KEY not in env
    assert ApiKeys.parse(env, "DOM_API_KEY_HASHES") == keys
    assert env.count("sha256:") == 2


def test_no_plaintext_is_kept() -> None:
    keys = ApiKeys.parse(f"{WRITE_KEY}:write", "env")
    expected = "sha256:" + hashlib.sha256(WRITE_KEY.encode()).hexdigest()
    assert dict(keys.hashes) == {expected: Role.WRITE}
    fields = [getattr(keys, field.name) for field in dataclasses.fields(keys)]
    dumped = repr(keys) + str(keys) + repr(fields) + repr(vars(keys)) + repr(pickle.dumps(keys))
    assert WRITE_KEY not in dumped
    with pytest.raises(TypeError):
        keys.hashes[expected] = Role.READ  # type: ignore[index]
    assert pickle.loads(pickle.dumps(keys)) == copy.deepcopy(keys) == keys


def test_role_of_and_roles() -> None:
    keys = ApiKeys.parse(f"{WRITE_KEY}:write", "env")
    assert keys.role_of(None) is None
    assert keys.role_of("") is None
    assert keys.role_of(WRITE_KEY + "x") is None
    assert Role.WRITE.allows(Role.READ) and Role.WRITE.allows(Role.WRITE)
    assert Role.READ.allows(Role.READ) and not Role.READ.allows(Role.WRITE)


def test_generate_key_is_random_and_url_safe() -> None:
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(first) == 32
    assert ApiKeys.parse(f"{first}:write", "new").role_of(first) is Role.WRITE

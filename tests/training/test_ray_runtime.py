"""Which Ray songscape runs on (``songscape.training.ray_runtime``): without an address a
private local instance even when a cluster runs beside it and Ray's discovery
(``RAY_ADDRESS``) points at that cluster, with no token file left behind for later
clusters; with an address, that cluster. The cluster is the session's real one
(``ray start --head`` on free loopback ports, tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("ray")

from songscape.errors import RayClusterError  # noqa: E402
from songscape.training.ray_runtime import (  # noqa: E402
    AUTH_ENV,
    cluster_error_text,
    connect_ray,
    disconnect_ray,
    error_chain,
)


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _connected_port() -> int:
    import ray

    return _port(ray.get_runtime_context().gcs_address)


@pytest.fixture
def clean_auth_env(tmp_path, monkeypatch):
    """No token settings in the environment, and a private home: a token file Ray writes
    to ``~/.ray/auth_token`` lands in ``tmp_path``."""
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_no_address_starts_a_private_ray_not_the_running_cluster(ray_address, clean_auth_env,
                                                                 monkeypatch) -> None:  # fmt: skip
    import ray

    # what plain ray.init() follows: RAY_ADDRESS (or /tmp/ray/ray_current_cluster)
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    session = connect_ray(None, "a test", include_dashboard=False, num_cpus=1,
                          object_store_memory=80 * 1024 * 1024)  # fmt: skip
    try:
        assert session.started and session.address is None
        assert _connected_port() != _port(ray_address)  # a new instance, not the cluster
        assert os.environ["RAY_AUTH_MODE"] == "token"  # protected by a token ...
        # ... that its worker processes accept: a task runs on it
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
    finally:
        disconnect_ray(session)
    assert not ray.is_initialized()
    # nothing for a later `ray start --head` to pick up and turn token auth on with
    assert not (clean_auth_env / ".ray").exists()
    assert all(name not in os.environ for name in AUTH_ENV)  # the environment as before


def test_an_explicit_address_joins_that_cluster(ray_address, clean_auth_env,
                                                monkeypatch) -> None:  # fmt: skip
    import ray

    session = connect_ray(ray_address, "a test", include_dashboard=False)
    try:
        assert _connected_port() == _port(ray_address)
    finally:
        disconnect_ray(session)
    assert not ray.is_initialized()
    monkeypatch.setenv("RAY_ADDRESS", ray_address)  # "auto": Ray's discovery, as asked
    session = connect_ray("auto", "a test", include_dashboard=False)
    try:
        assert _connected_port() == _port(ray_address)
    finally:
        disconnect_ray(session)
    assert not (clean_auth_env / ".ray").exists()


def test_an_unreachable_cluster_is_a_clear_error(clean_auth_env) -> None:
    import ray

    from tests.engines import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RayClusterError, match="cannot connect to the Ray cluster at"):
        connect_ray(address, "a test")
    assert not ray.is_initialized()


def test_a_refused_token_is_explained() -> None:
    from ray.exceptions import AuthenticationError

    try:
        try:
            raise AuthenticationError("InvalidAuthToken: Authentication token is missing")
        except AuthenticationError as inner:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379") from inner
    except ConnectionError as err:
        chain = error_chain(err)
    assert [type(e) for e in chain] == [ConnectionError, AuthenticationError]
    text = cluster_error_text("10.0.0.1:6379", chain[0], token_refused=True)
    assert "RAY_AUTH_MODE=token" in text and "10.0.0.1:6379" in text
    assert "ray start --head" in cluster_error_text("h:1", chain[0], token_refused=False)

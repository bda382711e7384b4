"""Which Ray songscape runs on: a private local instance, or the cluster it was told to join.

``ingest --engine ray`` and ``train --engine ray`` both connect through
:func:`connect_ray` (this module sits in ``training``, the lowest layer that uses Ray, so
``ingest`` can import it too).

- **No address** (no ``--ray-address``): always a *private* local Ray instance for this run
  (``ray.init(address="local")``), never a cluster that happens to run on the machine.
  Plain ``ray.init()`` would join the cluster named by ``RAY_ADDRESS`` or the last one
  ``ray start`` recorded in ``/tmp/ray/ray_current_cluster`` — possibly another user's.
- **An address** (``"auto"``, ``"host:port"``): connects as asked, with Ray's own rules
  (``"auto"`` honours ``RAY_ADDRESS`` and finds a local cluster; the cluster's token, if it
  uses token authentication, comes from ``RAY_AUTH_MODE=token`` plus ``RAY_AUTH_TOKEN``,
  ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``). A cluster that cannot be reached or
  refuses the token raises :class:`~songscape.errors.RayClusterError` with what to do.

**Tokens.** Since Ray 2.59 a local ``ray.init()`` turns token authentication on for the new
instance, sets ``RAY_AUTH_MODE=token`` in the calling process and, when no token exists,
writes one to ``~/.ray/auth_token``. That file outlives the run: every ``ray start --head``
on the machine afterwards turns token authentication on by itself, and clients that join
it with an explicit address (which never read the file unless ``RAY_AUTH_MODE=token``) are
refused with ``InvalidAuthToken``. The private instance therefore gets a fresh random
token passed in ``RAY_AUTH_TOKEN`` (Ray's first token source, inherited by the instance's
processes): the instance is still protected by a token, nothing is written to
``~/.ray``, and the process environment is put back as it was when the run ends
(:func:`disconnect_ray`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any

from songscape.errors import RayClusterError
from songscape.extras import require

log = logging.getLogger(__name__)

#: The environment variables Ray reads for token authentication (mode, token, token file).
AUTH_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@dataclass
class RaySession:
    """What :func:`connect_ray` did, for :func:`disconnect_ray` to undo.

    Attributes
    ----------
    ray : module
        The imported ``ray`` package.
    address : str or None
        The address asked for (None: a private local instance).
    started : bool
        Whether this session called ``ray.init`` (False when Ray was already initialised
        by the caller: then it is left running).
    saved_env : dict
        The values of :data:`AUTH_ENV` before a private instance changed them (None:
        unset).
    """

    ray: Any
    address: str | None
    started: bool
    saved_env: dict[str, str | None] = field(default_factory=dict)


def private_auth_env() -> dict[str, str]:
    """The token settings of a private instance: token mode and a fresh 256-bit token.

    Returns
    -------
    dict
        ``RAY_AUTH_MODE`` and ``RAY_AUTH_TOKEN`` (64 hex digits, like the tokens Ray
        generates).
    """
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def _refresh_ray_auth() -> None:
    """Make this process's Ray runtime re-read the token settings from the environment
    (Ray caches the mode in its config and the token in a loader)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication: nothing cached
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _restore_env(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def connect_ray(address: str | None, feature: str, **init_kwargs: Any) -> RaySession:
    """Initialise Ray for one songscape run (see the module docstring).

    Parameters
    ----------
    address : str or None
        None: a private local instance; ``"auto"`` or ``"host:port"``: that cluster.
    feature : str
        What the user asked for, for the missing-extra message (``"ingest --engine ray"``).
    **init_kwargs
        Passed to ``ray.init`` (``runtime_env``, ``log_to_driver``, ``include_dashboard``…).

    Returns
    -------
    RaySession
        Hand it to :func:`disconnect_ray` when the run ends.

    Raises
    ------
    MissingExtraError
        Ray is not installed (the ``scale`` extra).
    RayClusterError
        The cluster at ``address`` cannot be reached or refuses this client's token.
    """
    ray = require("ray", "scale", feature)
    if ray.is_initialized():  # the caller's own Ray (a notebook, a test): use it as it is
        return RaySession(ray, address, started=False)
    if address is None:
        saved = {name: os.environ.get(name) for name in AUTH_ENV}
        os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        os.environ.update(private_auth_env())
        _refresh_ray_auth()
        try:
            ray.init(address="local", **init_kwargs)
        except BaseException:
            _restore_env(saved)
            _refresh_ray_auth()
            raise
        return RaySession(ray, None, started=True, saved_env=saved)
    check_reachable(address)
    try:
        ray.init(address=address, **init_kwargs)
    except (ConnectionError, ray.exceptions.AuthenticationError) as err:
        refused = any(isinstance(cause, ray.exceptions.AuthenticationError)
                      for cause in error_chain(err))  # fmt: skip
        raise RayClusterError(cluster_error_text(address, err, refused)) from err
    return RaySession(ray, address, started=True)


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Raise :class:`~songscape.errors.RayClusterError` at once when nothing listens at a
    ``host:port`` address (``ray.init`` itself retries an unreachable address for many
    minutes). ``"auto"`` and addresses without a port are left to Ray.

    Parameters
    ----------
    address : str
        ``host:port``, ``[ipv6]:port`` or ``scheme://host:port`` (Ray Client).
    timeout : float
        Seconds to wait for the TCP connection.
    """
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise RayClusterError(cluster_error_text(address, err, token_refused=False)) from err


def error_chain(err: BaseException, limit: int = 10) -> list[BaseException]:
    """``err`` and the exceptions it was raised from (``__cause__``), outermost first."""
    chain = [err]
    while chain[-1].__cause__ is not None and len(chain) < limit:
        chain.append(chain[-1].__cause__)
    return chain


def cluster_error_text(address: str, err: BaseException, token_refused: bool) -> str:
    """The message for a cluster that could not be joined: a token refused, or unreachable."""
    if token_refused:
        return (f"the Ray cluster at {address} refused this client's token: it uses token "
                "authentication, so set RAY_AUTH_MODE=token and give the cluster's token "
                "(RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)")  # fmt: skip
    return (f"cannot connect to the Ray cluster at {address} ({err}); start one with "
            "`ray start --head`, or leave out --ray-address for a private local Ray")  # fmt: skip


def disconnect_ray(session: RaySession) -> None:
    """Shut Ray down if :func:`connect_ray` started it, and put the token settings of the
    process environment back as they were (a private instance changed them)."""
    if not session.started:
        return
    try:
        session.ray.shutdown()
    finally:
        if session.saved_env:
            _restore_env(session.saved_env)
            _refresh_ray_auth()

"""``/api/users``: the listeners of the imported listening data (what the page's "for you"
panel offers to choose from; recommendations themselves are ``/api/recommend``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from songscape.recommend.service import users_summary
from songscape.server.deps import StateDep
from songscape.server.models import JSON_ROUTE, UsersOut

router = APIRouter(tags=["recommend"])


@router.get("/api/users", summary="Users with listening events", response_model=UsersOut,
            **JSON_ROUTE)  # fmt: skip
def users(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="users to list")] = 200,
) -> dict:
    """`{total, users: [{id, events, items, plays}]}`, the most active users first."""
    rows = state.call(lambda lib: users_summary(lib.store))
    rows = sorted(rows, key=lambda u: (-u["plays"], str(u["id"])))
    return {"total": len(rows), "users": rows[:limit]}

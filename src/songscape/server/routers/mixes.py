"""``/api/mixes``: DJ mixes rendered in the background (issue 13; docs/mix.md).

``POST /api/mixes`` plans a mix at once (a bad request gets its error in the answer) and
queues its rendering (:mod:`songscape.server.mix_jobs`: one at a time, at most
:data:`~songscape.server.mix_jobs.MAX_PENDING` waiting, else 429). ``GET
/api/mixes/{id}`` tells where it stands, with the plan; ``/audio`` serves the rendered
file with Range requests (the track audio route's code), ``/cue`` and ``/m3u8`` its CUE
sheet and source playlist.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from songscape.mix.order import ARCS
from songscape.mix.plan import STYLES, MixOptions
from songscape.mix.segments import SEGMENT_MODES
from songscape.server.deps import ServerState, StateDep
from songscape.server.errors import ApiError, plain_errors_as
from songscape.server.mix_jobs import AUDIO_SUFFIX, MIX_ID_RE, MixJob, MixJobs, QueueFullError
from songscape.server.routers.audio import file_response

router = APIRouter(tags=["mixes"])

#: Most tracks in a mix asked for by list, and most chosen by a seed, query or user.
MAX_TRACKS = 100
#: Longest mix asked for by minutes.
MAX_MINUTES = 180
#: Seconds a client is told to wait after a 429.
RETRY_AFTER_S = 30
#: Content types of the side files.
SIDE_TYPES = {"cue": "application/x-cue", "m3u8": "audio/x-mpegurl"}

TrackId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,64}$")]
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_NOT_RENDERED = {"description": "The mix is not rendered (yet)", **_ERROR}


class MixRequest(BaseModel):
    """What to mix: exactly one of ``tracks``, ``seed``, ``from`` + ``to``, ``query``,
    ``user``; and how."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tracks: list[TrackId] | None = Field(
        None, min_length=2, max_length=MAX_TRACKS,
        description="track ids, played in this order (unless `reorder`)")  # fmt: skip
    seed: TrackId | None = Field(None, description="grow the mix from this track")
    from_: TrackId | None = Field(None, alias="from", description="a path's first track")
    to: TrackId | None = Field(None, description="a path's last track")
    query: str | None = Field(None, min_length=1, max_length=300,
                              description="words, e.g. 'calm piano'")  # fmt: skip
    user: str | None = Field(None, min_length=1, max_length=200,
                             description="a listener of the imported events")  # fmt: skip
    count: int | None = Field(None, ge=2, le=MAX_TRACKS,
                              description="tracks to choose (seed, path, query, user)")  # fmt: skip
    minutes: float | None = Field(None, gt=0, le=MAX_MINUTES,
                                  description="length to grow a seed's mix to")  # fmt: skip
    segments: Literal[SEGMENT_MODES] = Field(  # type: ignore[valid-type]
        "auto", description="highlights, full songs, or auto (highlights for more than 5)")
    bars: int | None = Field(None, ge=1, le=64, description="bars of each beat-matched "
                             "transition (default 8 for full songs, 4 for highlights)")  # fmt: skip
    style: Literal[STYLES] = "bass-swap"  # type: ignore[valid-type]
    arc: Literal[ARCS] = "none"  # type: ignore[valid-type]
    reorder: bool = Field(False, description="reorder a list of tracks for the smoothest mix")


class MixSegment(BaseModel):
    """One track's part of the mix (times in seconds)."""

    model_config = ConfigDict(extra="allow")
    index: int
    track_id: str
    title: str | None = None
    artist: str | None = None
    filename: str | None = None
    part: str
    mix_start_s: float
    mix_end_s: float
    source_start_s: float
    source_end_s: float
    on_grid: bool
    grid_note: str | None = None


class MixTransition(BaseModel):
    """The join of segment ``index`` and ``index + 1``."""

    model_config = ConfigDict(extra="allow")
    index: int
    kind: Literal["beatmatched", "fade"]
    style: str
    mix_start_s: float
    mix_end_s: float
    bars: int | None = None
    tempo_ratio: float | None = None
    key_relation: str | None = None
    cost: float | None = None
    parts: dict[str, float | None] = {}
    reason: str | None = None


class MixPlanOut(BaseModel):
    """The plan, as ``songscape mix --json`` prints it (source paths as file names)."""

    model_config = ConfigDict(extra="allow")
    duration_s: float
    master_tempo_bpm: float | None = None
    order: dict[str, Any]
    segments: list[MixSegment]
    transitions: list[MixTransition]


class MixDownloads(BaseModel):
    """File names for saving the mix (the CUE sheet refers to the audio by this name)."""

    audio: str
    cue: str
    m3u8: str


class MixSummary(BaseModel):
    """A mix in the list."""

    id: str
    status: Literal["queued", "rendering", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    created: str
    finished: str | None = None
    title: str
    duration_s: float
    n_segments: int
    url: str
    audio_url: str | None = None
    error: str | None = None


class MixOut(MixSummary):
    """A mix: where it stands, its plan, and once done its files."""

    cue_url: str | None = None
    m3u8_url: str | None = None
    downloads: MixDownloads
    plan: MixPlanOut | None = None
    render: dict[str, Any] | None = None


class MixList(BaseModel):
    mixes: list[MixSummary]


# -- the jobs of an app ------------------------------------------------------------------

_CREATE = threading.Lock()


def jobs_of(request: Request, state: ServerState) -> MixJobs:
    """The app's :class:`MixJobs` (made on first use: lists the mixes on disk)."""
    app = request.app
    with _CREATE:
        jobs = getattr(app.state, "mix_jobs", None)
        if jobs is None:
            jobs = MixJobs(state.settings.library_dir)
            app.state.mix_jobs = jobs
    return jobs


def close_jobs(app: FastAPI) -> None:
    """Stop the app's mix renderer, if it was started (the app's shutdown)."""
    jobs = getattr(app.state, "mix_jobs", None)
    if jobs is not None:
        jobs.close()


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _title(plan: dict) -> str:
    names = [s.get("title") or os.path.splitext(s.get("filename") or "")[0] or s["track_id"]
             for s in plan.get("segments", [])]  # fmt: skip
    if not names:
        return "mix"
    return f"{names[0]} → {names[-1]} ({len(names)} songs)" if len(names) > 1 else names[0]


def _summary(job: MixJob) -> dict:
    url = f"/api/mixes/{job.id}"
    return {
        "id": job.id, "status": job.status, "progress": job.progress,
        "created": _iso(job.created), "finished": _iso(job.finished),
        "title": _title(job.plan), "duration_s": job.plan.get("duration_s") or 0.0,
        "n_segments": len(job.plan.get("segments", [])), "url": url,
        "audio_url": f"{url}/audio" if job.status == "done" else None, "error": job.error,
    }  # fmt: skip


def _public(job: MixJob) -> dict:
    out = _summary(job)
    done = job.status == "done"
    out.update(
        cue_url=f"{out['url']}/cue" if done else None,
        m3u8_url=f"{out['url']}/m3u8" if done else None,
        downloads={"audio": f"{job.id}{AUDIO_SUFFIX}", "cue": f"{job.id}.cue",
                   "m3u8": f"{job.id}.m3u8"},
        plan=job.plan, render=job.render,
    )  # fmt: skip
    return out


def _job(jobs: MixJobs, mix_id: str) -> MixJob:
    job = jobs.get(mix_id) if MIX_ID_RE.fullmatch(mix_id) else None
    if job is None:
        raise ApiError(404, f"no mix {mix_id!r} (GET /api/mixes lists them)")
    return job


def _finished(jobs: MixJobs, mix_id: str) -> MixJob:
    job = _job(jobs, mix_id)
    if job.status != "done":
        raise ApiError(409, f"mix {mix_id} is {job.status}, not rendered"
                            + (f": {job.error}" if job.error else ""))  # fmt: skip
    return job


# -- routes ------------------------------------------------------------------------------


@router.post(
    "/api/mixes", summary="Plan a DJ mix and render it in the background",
    status_code=202, response_model=MixOut,
    responses={409: {"description": "The mix cannot be made as asked (a source file is "
                     "gone, more minutes than the library holds)", **_ERROR},
               429: {"description": "Too many mixes waiting; try again later "
                     "(Retry-After)", **_ERROR}},
)  # fmt: skip
def create(body: MixRequest, request: Request, state: StateDep) -> JSONResponse:
    """Exactly one source: `tracks` (2–100 ids, in that order unless `reorder`),
    `seed` (+ `count` or `minutes`), `from` + `to` (a smooth path between two tracks),
    `query` (text search) or `user` (their recommendations). The plan is made now and
    answered with `status: queued`; poll `url` for `progress` until `done` (then
    `audio_url`) or `failed` (`error`). 400: no source or several, a mix of fewer than
    two songs; 404: an unknown track or user; 409: a file gone, more minutes than the
    library; 429: mixes already waiting."""
    sources = [body.tracks is not None, body.seed is not None,
               body.from_ is not None or body.to is not None, body.query is not None,
               body.user is not None]  # fmt: skip
    if sum(sources) != 1:
        # 400, not 422: the schema cannot say "exactly one of"; every value was well-formed
        raise ApiError(400, "bad parameter — give exactly one of tracks, seed, from+to, "
                            "query, user")  # fmt: skip
    if (body.from_ is None) != (body.to is None):
        raise ApiError(400, "bad parameter — from and to go together")
    if body.minutes is not None and body.seed is None:
        raise ApiError(400, "bad parameter — minutes sets the length of a seed's mix; "
                            "give a count for the other sources")  # fmt: skip
    if body.tracks is not None and body.count is not None:
        raise ApiError(400, "bad parameter — count does not apply to a list of tracks")
    jobs = jobs_of(request, state)
    try:
        jobs.check_room()
    except QueueFullError as err:
        raise ApiError(429, str(err), headers={"Retry-After": str(RETRY_AFTER_S)}) from err
    options = MixOptions(segments=body.segments, bars=body.bars, style=body.style,
                         arc=body.arc, reorder=body.reorder)  # fmt: skip
    source = {k: v for k, v in (("seed", body.seed), ("start", body.from_), ("end", body.to),
                                ("query", body.query), ("user", body.user),
                                ("count", body.count), ("minutes", body.minutes))
              if v is not None}  # fmt: skip
    tracks = list(body.tracks or ())
    try:
        with plain_errors_as({LookupError: 404, ValueError: 400}):
            plan = jobs.plan(lambda lib: lib.plan_mix(tracks, options=options, **source))
    except QueueFullError as err:
        raise ApiError(429, str(err), headers={"Retry-After": str(RETRY_AFTER_S)}) from err
    try:
        job = jobs.submit(plan, body.model_dump(by_alias=True, exclude_none=True))
    except QueueFullError as err:
        raise ApiError(429, str(err), headers={"Retry-After": str(RETRY_AFTER_S)}) from err
    out = MixOut.model_validate(_public(job)).model_dump(mode="json")
    return JSONResponse(out, status_code=202, headers={"Location": out["url"]})


@router.get("/api/mixes", summary="The mixes of the library, newest first",
            response_model=MixList)  # fmt: skip
def mixes(request: Request, state: StateDep) -> dict:
    """Finished mixes (kept in the library's `mixes/` folder, so they outlive a restart),
    and those queued, rendering or failed since the server started."""
    return {"mixes": [_summary(j) for j in jobs_of(request, state).all()]}


@router.get("/api/mixes/{mix_id}", summary="One mix: status, progress, plan",
            response_model=MixOut)  # fmt: skip
def mix(mix_id: str, request: Request, state: StateDep) -> dict:
    """`status` queued → rendering (`progress` 0–1) → done or failed (`error`); `plan`
    the segments and transitions (as `songscape mix --json`, paths as file names);
    `render` (when done) what rendering measured."""
    return _public(_job(jobs_of(request, state), mix_id))


@router.delete("/api/mixes/{mix_id}", summary="Delete a finished or failed mix",
               responses={409: {"description": "The mix is still queued or rendering",
                                **_ERROR}})  # fmt: skip
def delete(mix_id: str, request: Request, state: StateDep) -> dict[str, str]:
    """Removes the mix and its files (audio, plan, CUE sheet, playlist)."""
    jobs = jobs_of(request, state)
    _job(jobs, mix_id)
    try:
        jobs.delete(mix_id)
    except ValueError as err:
        raise ApiError(409, str(err)) from err
    return {"deleted": mix_id}


@router.head("/api/mixes/{mix_id}/audio", include_in_schema=False)
@router.get(
    "/api/mixes/{mix_id}/audio",
    summary="The rendered mix (Ogg Vorbis; HTTP Range supported; HEAD too)",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/ogg": {}}},
               206: {"description": "Partial content"},
               304: {"description": "Not modified (If-None-Match matches the ETag)"},
               409: _NOT_RENDERED,
               416: {"description": "Range not satisfiable"}},
)  # fmt: skip
def audio(mix_id: str, request: Request, state: StateDep) -> Response:
    """Range, If-None-Match and HEAD as `/api/tracks/{id}/audio`."""
    jobs = jobs_of(request, state)
    _finished(jobs, mix_id)
    return file_response(str(jobs.audio_path(mix_id)), request,
                         f"the audio file of mix {mix_id} is missing")  # fmt: skip


def _side_file(request: Request, state: ServerState, mix_id: str, kind: str) -> Response:
    jobs = jobs_of(request, state)
    _finished(jobs, mix_id)
    path = jobs.side_path(mix_id, f".{kind}")
    try:
        data = path.read_bytes()
    except OSError:
        raise ApiError(404, f"the {kind} file of mix {mix_id} is missing") from None
    return Response(data, media_type=SIDE_TYPES[kind], headers={
        "Content-Disposition": f'attachment; filename="{mix_id}.{kind}"'})  # fmt: skip


@router.get("/api/mixes/{mix_id}/cue", summary="The mix's CUE sheet", response_class=Response,
            responses={200: {"content": {SIDE_TYPES["cue"]: {}}},
                       409: _NOT_RENDERED})  # fmt: skip
def cue(mix_id: str, request: Request, state: StateDep) -> Response:
    """One CUE track per segment, indexed at the middle of its transition in."""
    return _side_file(request, state, mix_id, "cue")


@router.get("/api/mixes/{mix_id}/m3u8", summary="The mix's sources as an M3U8 playlist",
            response_class=Response,
            responses={200: {"content": {SIDE_TYPES["m3u8"]: {}}},
                       409: _NOT_RENDERED})  # fmt: skip
def m3u8(mix_id: str, request: Request, state: StateDep) -> Response:
    """The source files in mix order (absolute paths on the server's machine, for a
    player there, like the playlist export)."""
    return _side_file(request, state, mix_id, "m3u8")


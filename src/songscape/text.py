"""The one text normaliser: how songscape compares names, titles, tags and queries.

Search (tag names, concepts, free-text queries) and track linking (artist/title pairs of
imported listening data against the library's tags) must agree on when two strings are
"the same", so both use :func:`normalize_text`.
"""

from __future__ import annotations

import re
import unicodedata

# "(feat. X)", "[ft. X]", "(with X)" anywhere, or a trailing " feat. X …".
_FEATURING = re.compile(r"[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s[^\)\]]*[\)\]]|"
                        r"\s(?:feat\.?|ft\.?|featuring)\s.*$", re.IGNORECASE)  # fmt: skip
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str | None, strip_featuring: bool = False) -> str:
    """Lower-case, accent-free, punctuation-free text with single spaces.

    Parameters
    ----------
    text : str or None
        Any text; None and ``""`` give ``""``.
    strip_featuring : bool
        Also drop "feat." credits (``"Song (feat. X)"`` -> ``"song"``): for matching artist
        names and titles, where a guest credit is not part of the name.

    Returns
    -------
    str
        ``"Beyoncé & Jay-Z"`` -> ``"beyonce and jay z"``; apostrophes vanish
        (``"don't"`` -> ``"dont"``); letters of any script are kept.
    """
    if not text:
        return ""
    if strip_featuring:
        # NFKC first so full-width or compatibility forms of "feat." are matched too.
        text = _FEATURING.sub(" ", unicodedata.normalize("NFKC", text))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ").replace("'", "").replace("\u2019", "")
    return " ".join(_NON_WORD.sub(" ", text).split())

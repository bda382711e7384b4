"""Sing: from a recording of someone's voice to the library's songs that suit it (issue 14).

:func:`~songscape.sing.voice.analyze_voice` checks a recording and measures the voice
(range, comfortable range, tessitura, timbre); :func:`~songscape.sing.match.match_songs`
ranks the library's analysed songs by range fit at the best transposition within
±6 semitones and by voice-timbre similarity, each with an explanation. See docs/sing.md.
"""

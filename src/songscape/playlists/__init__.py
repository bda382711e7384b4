"""Saved playlists (issue 17): any list songscape produces, kept under a name in the library
(:mod:`songscape.playlists.service`), exported to M3U8 and XSPF and imported from M3U/M3U8
and XSPF files (:mod:`songscape.playlists.formats`)."""

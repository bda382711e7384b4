"""Tags written back into the user's files (issue 17): ``songscape tags write``. What to
write is chosen here (:mod:`songscape.writeback.service`); how each format stores it is
:mod:`songscape.audio.tag_write`."""

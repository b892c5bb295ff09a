"""Recorded editions: the book's pages run on a profile worth reading, their numbers kept as small text files.

An *edition* is one profile's run of some pages (``editions/<profile>.json``): every page's metrics (the
numbers its tables and findings rest on) with its provenance — commit, code fingerprint, data and weights by
SHA-256, the resolved settings, library versions, the machine, wall time, date. Never images, weights or
features. :mod:`.pages` runs a page's Jupytext source as a script (no Jupyter needed), :mod:`.record` writes
an edition, :mod:`.check` recomputes a cheap slice of one and fails when the code no longer gives its numbers,
:mod:`.claims` turns editions into the scoreboard of the paper's claims and :mod:`.render` shows them.
"""

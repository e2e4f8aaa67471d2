"""`reviewtool watch`: a public-inbox followed continuously, each new series reviewed once per change.

inbox.py (epochs over git), detect.py (what a mail is, with b4), versions.py
(earlier revisions in the same inbox), state.py (SQLite), index.py (the front
page), maildir.py (drafts delivery), watcher.py (one cycle, composed).
"""

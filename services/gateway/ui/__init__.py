"""The dashboard at /ui: server-rendered pages over the same service functions as the API.

Each page group is one controller module; every page is signed in through a server-side
session (session.py) and is live through the SSE stream (static/app.js).
"""

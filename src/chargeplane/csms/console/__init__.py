"""The operator web console (issue #18): server-rendered pages on the same port as the HTTP API.

``users.py`` (accounts, roles, sessions, CSRF tokens), ``commands.py`` (``chargeplane user``), ``web.py``
(the Litestar routes: login, pages, fragments, the console's SSE stream, the command panel), ``views.py``
(what the pages show, read through the blocks' services), ``templates/`` and ``static/`` (our own HTML, CSS
and JS: no third-party front-end code, no CDN).
"""

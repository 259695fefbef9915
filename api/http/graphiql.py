"""Development's GraphiQL page, loading its scripts and styles from quanjing itself.

Strawberry's page loads React, GraphiQL and its explorer plugin from unpkg.com; on a bank's
intranet that never loads. The files are vendored in api/http/static/graphiql (pinned, with
the page's own integrity hashes, checked by a test) and served under /graphiql/.
"""

from __future__ import annotations

import functools
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
PREFIX = "/graphiql/"

# Each CDN address strawberry's page names, and the vendored file that replaces it.
CDN_FILES = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": (
        "react-dom.production.min.js"
    ),
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": (
        "plugin-explorer.umd.js"
    ),
}


@functools.cache
def local_graphiql_html() -> str:
    """Strawberry's page with every CDN address replaced by its vendored file. Fails loudly
    when strawberry names an address we do not vendor (a new version: see the README there)."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    for url, name in CDN_FILES.items():
        if url not in html:
            raise RuntimeError(f"strawberry's GraphiQL page no longer loads {url}")
        html = html.replace(url, PREFIX + name)
    if "https://unpkg.com" in html:
        raise RuntimeError("strawberry's GraphiQL page loads a file that is not vendored")
    return html

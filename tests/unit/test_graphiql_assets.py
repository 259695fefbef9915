"""GraphiQL loads from quanjing itself: every file the page names is vendored, byte for byte
what the page's integrity hash says, and the page names no CDN."""

from __future__ import annotations

import base64
import hashlib
import re

from api.http.graphiql import ASSETS, CDN_FILES, PREFIX, local_graphiql_html


def test_the_page_loads_only_vendored_files_whose_hashes_match() -> None:
    html = local_graphiql_html()
    assert "unpkg.com" not in html
    tags = re.findall(r'(?:src|href)="(/graphiql/[^"]+)"\s+integrity="(sha384-[^"]+)"', html)
    assert {path for path, _ in tags} == {PREFIX + name for name in CDN_FILES.values()}
    for path, integrity in tags:
        body = (ASSETS / path.removeprefix(PREFIX)).read_bytes()
        digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
        assert integrity == f"sha384-{digest}", path

"""The generated parts of docs/security.md: field policies and root permissions, from code."""

from __future__ import annotations

import re
from pathlib import Path

from domain.access.policy import FIELD_POLICIES
from domain.access.principal import Role
from schema.core.access import ROOT_PERMISSIONS

BEGIN = "<!-- generated:policies:begin -->"
END = "<!-- generated:policies:end -->"
ROLES = list(Role)


def render() -> str:
    lines = [BEGIN, "", "### Field policies", ""]
    lines.append("| field | " + " | ".join(r.value for r in ROLES) + " |")
    lines.append("|---|" + "---|" * len(ROLES))
    for type_name, fields in FIELD_POLICIES.items():
        for field, policy in fields.items():
            cells = [policy.rules[r].value if r in policy.rules else "hidden" for r in ROLES]
            lines.append(f"| `{type_name}.{field}` | " + " | ".join(cells) + " |")
    lines += ["", "### Who may call what", ""]
    lines.append("| root field | roles |")
    lines.append("|---|---|")
    for field, roles in sorted(ROOT_PERMISSIONS.items()):
        allowed = ", ".join(r.value for r in ROLES if r in roles)
        lines.append(f"| `{field}` | {allowed} |")
    lines += ["", END]
    return "\n".join(lines)


def rewrite(path: Path) -> bool:
    """Replace the generated block; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    updated = pattern.sub(lambda _: render(), text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text

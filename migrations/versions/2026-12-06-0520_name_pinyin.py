"""name pinyin: customers found by the pinyin of their names (issue 23, search)

A dictionary of readings (one per character, from pypinyin at migration time) and a trigger
that writes `customers.name_pinyin` whenever a name is written, by any path (the API, the
bulk import's COPY, the seeder): the search finds 熊 by `xiong` through a B-tree index, from
the start of the name.

Revision ID: 9a4b6c8e0f32
Revises: 7e2f4a6c8d10
Create Date: 2026-12-06 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pypinyin import lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

revision: str = "9a4b6c8e0f32"
down_revision: str | None = "7e2f4a6c8d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Letters and digits kept (lower-cased), spaces and the middle dot of minority names dropped;
# a character without a reading is kept as it is.
FUNCTION = r"""
CREATE FUNCTION name_pinyin(name text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(coalesce(r.reading, lower(c.ch)), '' ORDER BY c.n), '')
    FROM regexp_split_to_table(coalesce(name, ''), '') WITH ORDINALITY AS c(ch, n)
    LEFT JOIN pinyin_readings r ON r.ch = c.ch
    WHERE c.ch !~ '\s' AND c.ch NOT IN ('·', '•', '.', '-')
$$
"""

# A writer that spells the name itself (the bulk import, domain.search.name_pinyin: the same
# spelling, cheaper than this function per row) keeps its value; any other write of a name
# gets it from here. The WHEN clauses are checked without calling the function at all, so a
# bulk insert that brings its own spelling pays nothing per row.
TRIGGER_FUNCTION = """
CREATE FUNCTION customers_name_pinyin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name_pinyin := name_pinyin(NEW.display_name);
    RETURN NEW;
END
$$
"""
INSERT_TRIGGER = """
CREATE TRIGGER customers_name_pinyin_insert BEFORE INSERT ON customers
    FOR EACH ROW WHEN (NEW.name_pinyin IS NULL) EXECUTE FUNCTION customers_name_pinyin()
"""
UPDATE_TRIGGER = """
CREATE TRIGGER customers_name_pinyin_update BEFORE UPDATE OF display_name ON customers
    FOR EACH ROW WHEN (NEW.display_name IS DISTINCT FROM OLD.display_name
        AND NEW.name_pinyin IS NOT DISTINCT FROM OLD.name_pinyin)
    EXECUTE FUNCTION customers_name_pinyin()
"""


def _readings() -> list[dict[str, str]]:
    # The character's first (most common) reading without tones, as pypinyin reads it alone
    # (ü as v: lv for 吕). Surnames with another reading (单 shan) read as the character does.
    rows = []
    for code in pinyin_dict:
        ch = chr(code)
        reading = lazy_pinyin(ch, errors="ignore")
        if reading and reading[0].isascii() and reading[0].isalpha():
            rows.append({"ch": ch, "reading": reading[0].lower()})
    return rows


def upgrade() -> None:
    readings = op.create_table(
        "pinyin_readings",
        sa.Column("ch", sa.Text(), nullable=False),
        sa.Column("reading", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ch", name=op.f("pk_pinyin_readings")),
    )
    op.bulk_insert(readings, _readings())
    op.add_column("customers", sa.Column("name_pinyin", sa.Text(), nullable=True))
    op.execute(FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute(INSERT_TRIGGER)
    op.execute(UPDATE_TRIGGER)
    op.execute("UPDATE customers SET name_pinyin = name_pinyin(display_name)")
    # A B-tree for prefix matches (the family name first, as Chinese names are written): a
    # second trigram GIN index cost the initial import of 1,000,000 customers 86 s (268 → 354 s,
    # over its 300 s goal); a B-tree costs a fraction of that.
    op.create_index(
        "ix_customers_name_pinyin",
        "customers",
        ["name_pinyin"],
        unique=False,
        postgresql_ops={"name_pinyin": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_customers_name_pinyin", table_name="customers")
    op.execute("DROP TRIGGER customers_name_pinyin_update ON customers")
    op.execute("DROP TRIGGER customers_name_pinyin_insert ON customers")
    op.execute("DROP FUNCTION customers_name_pinyin()")
    op.execute("DROP FUNCTION name_pinyin(text)")
    op.drop_column("customers", "name_pinyin")
    op.drop_table("pinyin_readings")

"""The one port the management reports are read through."""

from __future__ import annotations

from typing import Protocol

from domain.reports.groups import CorporateGroups
from domain.reports.league import LeagueTables
from domain.reports.satisfaction import SatisfactionReports
from domain.reports.structure import CustomerStructures


class ManagementReports(
    LeagueTables, SatisfactionReports, CorporateGroups, CustomerStructures, Protocol
):
    """Every management report, one adapter (api/db/reports.py)."""

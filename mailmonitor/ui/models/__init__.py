"""Qt item models over accounts, campaigns and leads, one table per module with its row type
(as Vorta's views/partials): ``base`` (the roles and the rows-in-a-list table they share),
``accounts``, ``campaigns``, ``leads`` and ``status_filter`` (sorting and filtering proxy).

Rows are plain snapshots read from the database; the models only read it. A change refreshes only
its own row (`dataChanged` for that row; never a model reset per status change), so a burst of
status changes keeps selections, sorting and scroll positions where they are.
"""

from mailmonitor.ui.models.accounts import AccountRow, AccountsModel
from mailmonitor.ui.models.base import Role, RowsModel
from mailmonitor.ui.models.campaigns import CampaignRow, CampaignsModel, Member, leads_text
from mailmonitor.ui.models.leads import LeadRow, LeadsModel
from mailmonitor.ui.models.status_filter import StatusFilterProxy

__all__ = ["AccountRow", "AccountsModel", "CampaignRow", "CampaignsModel", "LeadRow",
           "LeadsModel", "Member", "Role", "RowsModel", "StatusFilterProxy", "leads_text"]

"""`mailmonitor demo`: the app on a throwaway data folder, with local demo mail servers and
accounts, campaigns and leads in every state. Statuses come from real checks against the demo
servers; the broken mailbox really reconnects once the rep types its new password."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import keyring

from mailmonitor.clock import utcnow
from mailmonitor.demo_servers import DemoServers, free_port
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import (
    DB_FILENAME,
    Account,
    Lead,
    LeadState,
    SendRecord,
    db,
    open_db,
    set_setting,
)
from mailmonitor.models.states import SendState
from mailmonitor.services.accounts.adding import AccountSpec, create_account
from mailmonitor.services.auth import secrets
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.campaigns.rules import pause_campaign
from mailmonitor.services.campaigns.setup import create_campaign, import_leads
from mailmonitor.services.monitoring.monitor import Monitor

NEW_PASSWORD = "new-password-2026"
DAN_APP_PASSWORD = "abcd efgh ijkl mnop"  # as Google shows one: four groups of four

STEPS = [
    {"subject": "Quick question about {{company|your team}}",
     "body": "Hi {{first_name|there}},\n\nDo you have 10 minutes next week?", "delay_days": 0},
    {"subject": "", "body": "Hi {{first_name|there}}, just bumping this up.", "delay_days": 3},
    {"subject": "", "body": "Last note from me, {{first_name|there}}.", "delay_days": 4},
]


@dataclass
class DemoContext:
    servers: DemoServers
    data_dir: Path
    # email -> what fixes it, in a sentence the window shows where the password (or, for a
    # server that moved, the servers) are typed.
    hints: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.servers.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _spec(email: str, name: str, servers: DemoServers, imap_port: int | None = None
          ) -> AccountSpec:
    return AccountSpec(
        email=email, name=name, imap_host="127.0.0.1", imap_port=imap_port or servers.imap_port,
        imap_security="plain", smtp_host="127.0.0.1", smtp_port=servers.smtp_port,
        smtp_security="plain", daily_limit=50, min_gap_seconds=600,
    ).validated()


def _leads_csv(folder: Path, name: str, count: int, offset: int = 0) -> Path:
    first = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Radia", "Tim",
             "Frances"]
    companies = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]
    path = folder / f"{name}.csv"
    rows = ["email,first_name,company"]
    for i in range(offset, offset + count):
        rows.append(f"{first[i % len(first)].lower()}.{i}@{companies[i % len(companies)].lower()}"
                    f".example,{first[i % len(first)]},{companies[i % len(companies)]}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _history(campaign_name: str, now: datetime, pattern: dict[LeadState, int]) -> None:
    """Give some leads a past: emails already sent (real send records), replies, bounces."""
    from mailmonitor.models import Campaign

    campaign = Campaign.get(Campaign.name == campaign_name)
    leads = list(Lead.select().where(Lead.campaign == campaign, Lead.mailbox.is_null(False))
                 .order_by(Lead.id))
    index = 0
    for state, count in pattern.items():
        for lead in leads[index:index + count]:
            sent = {LeadState.ACTIVE: 1, LeadState.REPLIED: 1, LeadState.BOUNCED: 1,
                    LeadState.COMPLETED: 3, LeadState.HALTED: 1}[state]
            for step in range(sent):
                SendRecord.create(
                    lead=lead, campaign=campaign, account=lead.mailbox_id, step=step,
                    message_id=f"<demo-{lead.id}-{step}@mailmonitor.demo>",
                    subject=STEPS[0]["subject"], state=SendState.SENT,
                    created_at=now - timedelta(days=3 - step),
                    sent_at=now - timedelta(days=3 - step),
                )
            lead.cursor = lead.messages_sent = sent
            lead.last_message_id = f"<demo-{lead.id}-{sent - 1}@mailmonitor.demo>"
            lead.state = state
            lead.next_due_at = now + timedelta(hours=2)
            lead.save()
        index += count


def seed_demo(data_dir: Path, servers: DemoServers) -> DemoContext:
    """Accounts, campaigns and leads in every state, then one real check sweep."""
    now = utcnow()
    open_db(data_dir / DB_FILENAME)
    # The demo's server never bans anyone, and two of its mailboxes have a wrong password on
    # purpose: the login budget (3 failed logins per server) would hold the other demo
    # mailboxes' checks back for ten minutes, a dead end for the tour.
    set_setting("login_budget_server", 1000)
    set_setting("login_budget_mailbox", 1000)
    hints: dict[str, str] = {}
    people = [
        ("ava@northwind.example", "Ava Stone", "ava-pass", {}),
        ("ben@northwind.example", "Ben Ortiz", "ben-pass", {}),
        ("cleo@northwind.example", "Cleo Park", NEW_PASSWORD, {}),  # password changed on server
        ("dan@gmail-demo.example", "Dan Reyes", "dan-pass", {
            "imap_refusal": "[ALERT] Application-specific password required: "
                            "https://support.google.com/accounts/answer/185833 (Failure)",
            "smtp_refusal": (534, "5.7.9 Application-specific password required. Learn more at "
                                  "https://support.google.com/mail/?p=InvalidSecondFactor"),
            # The demo's "Google" takes the app password the rep creates (the hint says it).
            "app_password": DAN_APP_PASSWORD.replace(" ", "")}),
        ("finn@northwind.example", "Finn Lee", "finn-pass", {}),
        ("eve@fieldsales.example", "Eve Martin", "eve-pass", {}),
    ]
    for email, _name, password, extra in people:
        servers.add_user(email, password, **extra)
    with db.atomic():
        stored = {"cleo@northwind.example": "old-password"}
        for email, name, password, _ in people[:-1]:
            create_account(_spec(email, name, servers), stored.get(email, password), now)
        hints["cleo@northwind.example"] = (
            f"Demo: Cleo's password was changed; the new one is “{NEW_PASSWORD}”.")
        hints["dan@gmail-demo.example"] = (
            "Demo: Dan's provider wants an app password. The one created for mailmonitor is "
            f"“{DAN_APP_PASSWORD}” (spaces are fine).")
        # A server that moved: nothing listens on the old port any more (the demo's tour
        # fixes it with Edit servers…, which tests the new port before saving it).
        create_account(_spec("eve@fieldsales.example", "Eve Martin", servers,
                             imap_port=free_port()), "eve-pass", now)
        hints["eve@fieldsales.example"] = (
            f"Demo: Eve's IMAP server moved to port {servers.imap_port}. Open Edit servers… "
            "(the mailbox's detail), change the IMAP port and save: it is tested first.")
        folder = data_dir / "import"
        folder.mkdir()
        q4 = create_campaign("Q4 outreach", ["ava@northwind.example", "ben@northwind.example",
                                             "cleo@northwind.example"], STEPS, None, now)
        import_leads(q4, _leads_csv(folder, "q4", 60), now)
        enterprise = create_campaign("Enterprise follow-up", ["cleo@northwind.example"], STEPS,
                                     None, now)
        import_leads(enterprise, _leads_csv(folder, "enterprise", 12, 100), now)
        webinar = create_campaign("Webinar invites", ["ava@northwind.example",
                                                      "eve@fieldsales.example"], STEPS, None, now)
        import_leads(webinar, _leads_csv(folder, "webinar", 20, 200), now)
        pause_campaign(webinar, now)
        gmail = create_campaign("Founders list", ["dan@gmail-demo.example",
                                                  "finn@northwind.example"], STEPS, None, now)
        import_leads(gmail, _leads_csv(folder, "founders", 16, 300), now)
        _history("Q4 outreach", now, {LeadState.ACTIVE: 18, LeadState.REPLIED: 4,
                                      LeadState.BOUNCED: 2, LeadState.COMPLETED: 5})
        _history("Enterprise follow-up", now, {LeadState.ACTIVE: 5})
        _history("Founders list", now, {LeadState.ACTIVE: 6, LeadState.COMPLETED: 2})

    async def sweep() -> None:
        monitor = Monitor(max_concurrency=8)
        try:
            await monitor.sweep(trigger="demo")
        finally:
            await monitor.stop()

    asyncio.run(sweep())
    finn = Account.get(Account.email == "finn@northwind.example")
    lifecycle.disconnect(finn, utcnow())
    secrets.delete_all_secrets(finn.email)
    hints["finn@northwind.example"] = (
        "Demo: you disconnected Finn's mailbox; its password is “finn-pass”.")
    _reply_from_a_lead(servers, now)
    return DemoContext(servers=servers, data_dir=data_dir, hints=hints)


def _reply_from_a_lead(servers: DemoServers, now: datetime) -> None:
    """A lead of Q4 outreach answered Ava's first email: the reply waits in Ava's INBOX, and
    the window's reply loop finds it at start (the lead becomes Replied, its next step is
    not sent)."""
    from mailmonitor.models import Campaign

    ava = Account.get(Account.email == "ava@northwind.example")
    lead = Lead.select().where(
        (Lead.campaign == Campaign.get(Campaign.name == "Q4 outreach")) & (Lead.mailbox == ava)
        & (Lead.state == LeadState.ACTIVE)).order_by(Lead.id).first()
    if lead is None or not lead.last_message_id:
        return
    first = (lead.fields or {}).get("first_name", "")
    reply = (f"From: {first} <{lead.email}>\r\nTo: Ava Stone <{ava.email}>\r\n"
             f"Subject: Re: Quick question about {(lead.fields or {}).get('company', 'us')}\r\n"
             f"Message-ID: <reply-{lead.id}@demo.example>\r\n"
             f"In-Reply-To: {lead.last_message_id}\r\nReferences: {lead.last_message_id}\r\n"
             f"Date: {format_datetime(now.replace(tzinfo=UTC))}\r\n\r\n"
             "Thursday works for me. Send an invite?\r\n")
    servers.deliver(ava.email, reply.encode(), now.replace(tzinfo=UTC))


def run_demo() -> int:
    keyring.set_keyring(MemoryKeyring())
    data_dir = Path(tempfile.mkdtemp(prefix="mailmonitor-demo-"))
    servers = DemoServers().start()
    context = seed_demo(data_dir, servers)
    print(f"Demo data in {data_dir} (deleted on exit). The tour: Help → The demo tour; each "
          "broken mailbox's fix is shown where you type it.")
    from mailmonitor.app import run_app

    try:
        return run_app(data_dir, demo=context)
    finally:
        context.close()

"""Team view rules (issue 15) on SQLite and PostgreSQL: owners, members and admins, the Mine
filter, who is notified of an alert (tray and channels), and schema step 9."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailmonitor.models import (
    Account,
    Alert,
    AlertSeen,
    Campaign,
    NotifyChannel,
    TeamMember,
    set_this_member,
    this_member,
)
from mailmonitor.models import db as database
from mailmonitor.models.migrations import MIGRATIONS
from mailmonitor.services.alerts.digest import collect_round
from mailmonitor.services.alerts.notifications import mark_notified, new_notices
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.team import local
from mailmonitor.services.team import members as svc
from tests.factories import make_account, make_campaign

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 12, 2, 9, 0)
Become = Callable[[str], None]


@pytest.fixture
def as_member() -> Iterator[Become]:
    def become(name: str) -> None:
        set_this_member(name)

    yield become
    set_this_member(None)


def on_team(db_backend: str) -> bool:
    return db_backend == "postgresql"


def alert_for(account: Account | None = None, campaign: Campaign | None = None,
              kind: str = "account_disconnected") -> Alert:
    about = account.email if account is not None else campaign.name if campaign else ""
    alert: Alert = Alert.create(key=f"{kind}:{about}", kind=kind, severity="error",
                                account=account, campaign=campaign, title=f"{kind} {about}",
                                created_at=NOW)
    return alert


def test_what_a_member_creates_is_theirs_and_the_owner_can_change(db: object,
                                                                  as_member: Become) -> None:
    as_member("alice")
    mine = make_account("a@x.test")
    campaign = make_campaign("Alice's", [mine])
    as_member("bob")
    theirs = make_account("b@x.test")
    assert (Account.get_by_id(mine.id).owner, Account.get_by_id(theirs.id).owner) == (
        "alice", "bob")
    assert Campaign.get_by_id(campaign.id).owner == "alice"
    svc.register_this_member()
    svc.set_owner(Campaign.get_by_id(campaign.id), "BOB")  # a known member, whatever the case
    assert Campaign.get_by_id(campaign.id).owner == "bob"
    with pytest.raises(InvalidInput, match="no member 'carol'"):
        svc.set_owner(Account.get_by_id(mine.id), "carol")
    assert Account.get_by_id(mine.id).owner == "alice"  # nothing changed


def test_the_first_member_is_admin_and_the_last_admin_stays(db: object, as_member: Become) -> None:
    as_member("alice")
    assert svc.register_this_member().admin
    as_member("bob")
    assert not svc.register_this_member().admin
    assert svc.register_this_member().name == "bob"  # once
    with pytest.raises(InvalidInput, match="last admin"):
        svc.set_admin("alice", False)
    svc.set_admin("bob", True)
    svc.set_admin("alice", False)
    assert [(m.name, m.admin) for m in svc.members()] == [("alice", False), ("bob", True)]
    with pytest.raises(InvalidInput, match="already a member"):
        svc.add_member("Alice")
    with pytest.raises(InvalidInput, match="cannot be a member name"):
        svc.add_member("x" * 65)
    assert TeamMember.select().count() == 2


def test_mine_is_the_default_filter_only_on_a_team_database(db: object, db_backend: str,
                                                            as_member: Become) -> None:
    as_member("alice")
    team = on_team(db_backend)
    assert svc.filter_available() is team
    assert svc.default_filter() is (svc.OwnerFilter.MINE if team else svc.OwnerFilter.EVERYONE)
    assert svc.shows("alice", svc.OwnerFilter.MINE)
    assert svc.shows("bob", svc.OwnerFilter.MINE) is not team  # SQLite: everything is yours
    assert svc.shows("bob", svc.OwnerFilter.EVERYONE)


def test_alerts_reach_the_owner_and_the_admins(db: object, db_backend: str,
                                               as_member: Become) -> None:
    team = on_team(db_backend)
    as_member("alice")
    svc.register_this_member()  # admin
    as_member("bob")
    svc.register_this_member()
    bobs = make_account("bob@x.test")
    as_member("carol")
    svc.register_this_member()
    carols = make_account("carol@x.test")
    carol_campaign = make_campaign("Carol's", [carols])
    on_bob, on_carol = alert_for(bobs), alert_for(carols)
    on_campaign = alert_for(campaign=carol_campaign, kind="campaign_paused")

    assert svc.reaches(on_bob, "bob") and svc.reaches(on_bob, "alice")
    assert svc.reaches(on_bob, "carol") is not team
    assert svc.reaches(on_campaign, "carol") and svc.reaches(on_campaign, "bob") is not team
    # The tray of this copy (carol): her own alerts only, on a team database
    as_member("carol")
    noticed = {n.alert_id for n in new_notices()}
    assert noticed == ({on_carol.id, on_campaign.id} if team else
                       {on_bob.id, on_carol.id, on_campaign.id})
    # Carol's tray shows hers; the admin's tray still shows them (and bob's) on a team
    # database, where each member's tray keeps its own mark.
    mark_notified(noticed)
    assert new_notices() == []
    as_member("alice")
    assert {n.alert_id for n in new_notices()} == (
        {on_bob.id, on_carol.id, on_campaign.id} if team else set())
    mark_notified([on_bob.id])
    as_member("bob")
    assert {n.alert_id for n in new_notices()} == ({on_bob.id} if team else set())


def test_a_channel_carries_its_members_alerts_and_an_admins_all(db: object, db_backend: str,
                                                                as_member: Become) -> None:
    team = on_team(db_backend)
    for name in ("alice", "bob", "carol"):
        as_member(name)
        svc.register_this_member()  # alice first: admin
    as_member("bob")
    bobs = make_account("bob@x.test")
    as_member("carol")
    carols = make_account("carol@x.test")
    early = datetime(2026, 12, 1)
    for owner in ("alice", "bob", "carol"):
        NotifyChannel.create(name=f"{owner}-hook", kind="webhook", target="https://h.test/x",
                             events=["disconnected"], owner=owner, created_at=early)
    alert_for(bobs)
    alert_for(carols)
    messages = {m.channel.owner: sorted(i["account"] for i in m.items)
                for m in collect_round(NOW)}
    both = ["bob@x.test", "carol@x.test"]
    assert messages == ({"alice": both, "bob": ["bob@x.test"], "carol": ["carol@x.test"]}
                        if team else {"alice": both, "bob": both, "carol": both})


def test_schema_step_9_adds_owners_and_members_once(db: object, as_member: Become) -> None:
    as_member("alice")
    make_account("keep@x.test")
    TeamMember.create(name="alice", admin=True)
    MIGRATIONS[9]()  # on a current schema: nothing breaks, nothing is lost
    columns = {t: {c.name for c in database.get_columns(t)}
               for t in ("account", "campaign", "notify_channel")}
    assert all("owner" in names for names in columns.values())
    assert Account.get().owner == "alice" and TeamMember.select().count() == 1
    assert this_member() == "alice"


def test_an_older_database_gains_owners_for_this_member(db: object, db_backend: str,
                                                        as_member: Become) -> None:
    make_account("old@x.test")
    for table in ("account", "campaign", "notify_channel"):
        database.execute_sql(f'DROP INDEX IF EXISTS "{table}_owner"')
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN owner')
    AlertSeen.drop_table()
    TeamMember.drop_table()
    as_member("dana")
    with database.atomic():
        MIGRATIONS[9]()
    assert TeamMember.table_exists() and AlertSeen.table_exists()
    assert Account.get().owner == "dana"


@pytest.fixture
def heard() -> Iterator[dict[str, list[int]]]:
    from mailmonitor.events import ACCOUNT_CHANGED, CAMPAIGN_CHANGED, bus

    got: dict[str, list[int]] = {"accounts": [], "campaigns": []}
    bus.subscribe(ACCOUNT_CHANGED, lambda a, *_: got["accounts"].append(a))
    bus.subscribe(CAMPAIGN_CHANGED, lambda c: got["campaigns"].append(c))
    yield got


def owners() -> dict[str, list[str]]:
    return {"accounts": sorted(f"{a.email}={a.owner}" for a in Account.select()),
            "campaigns": sorted(f"{c.name}={c.owner}" for c in Campaign.select()),
            "channels": sorted(f"{n.name}={n.owner}" for n in NotifyChannel.select()),
            "seen": sorted(f"{s.alert_id}={s.member}" for s in AlertSeen.select()),
            "members": sorted(f"{m.name}={m.admin}" for m in TeamMember.select())}


def test_a_rename_moves_what_the_member_owns_in_one_step(
        db: object, as_member: Become, heard: dict[str, list[int]]) -> None:
    as_member("alice")
    svc.register_this_member()  # the admin
    boxes = [make_account("a1@x.test"), make_account("a2@x.test"), make_account("gone@x.test")]
    Account.update(removed_at=NOW).where(Account.email == "gone@x.test").execute()
    campaign = make_campaign("Alice's", boxes[:1])
    NotifyChannel.create(name="alice-hook", kind="webhook", target="https://h.test/a",
                         events=["disconnected"])
    seen, other = alert_for(boxes[0]), alert_for(boxes[1])
    AlertSeen.create(member="alice", alert=seen)  # alice's tray showed both
    AlertSeen.create(member="alice", alert=other)
    AlertSeen.create(member="Alice Smith", alert=seen)  # a mark left under the new name
    as_member("bob")
    svc.register_this_member()
    bobs = make_account("b@x.test")
    make_campaign("Bob's", [bobs])

    renamed = svc.rename_member("ALICE", "  Alice   Smith ")  # any case; the name cleaned
    assert (renamed.old, renamed.new, renamed.mailboxes, renamed.campaigns) == (
        "alice", "Alice Smith", 2, 1)
    assert renamed.text == ("alice is Alice Smith now (2 mailboxes and 1 campaign moved "
                            "along).") and renamed.note == ""
    assert owners() == {
        "accounts": ["a1@x.test=Alice Smith", "a2@x.test=Alice Smith", "b@x.test=bob",
                     "gone@x.test=Alice Smith"],
        "campaigns": ["Alice's=Alice Smith", "Bob's=bob"],
        "channels": ["alice-hook=Alice Smith"],
        "seen": [f"{seen.id}=Alice Smith", f"{other.id}=Alice Smith"],
        "members": ["Alice Smith=True", "bob=False"]}  # still the admin
    assert sorted(heard["accounts"]) == sorted(b.id for b in boxes)  # their rows refresh
    assert heard["campaigns"] == [campaign.id]
    assert this_member() == "bob"  # someone else was renamed

    before = owners()
    for old, new, words in (("Alice Smith", "BOB", "bob is already a member"),
                            ("bob", "alice smith", "Alice Smith is already a member"),
                            ("bob", "x" * 65, "cannot be a member name"),
                            ("bob", "", "cannot be a member name"),
                            ("bob", "bob", "already the name"),
                            ("carol", "Carol", "no member 'carol'")):
        with pytest.raises(InvalidInput, match=words):
            svc.rename_member(old, new)
        assert owners() == before, (old, new)
    svc.rename_member("Alice Smith", "alice smith")  # a change of case only is a rename
    assert Account.get(Account.email == "a1@x.test").owner == "alice smith"


def test_renaming_this_copys_member_saves_the_name_in_team_json(
        db: object, data_dir: Path, as_member: Become, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(local.MEMBER_ENV, raising=False)
    local.write(data_dir, member="dana")
    local.apply(data_dir)  # as the command line and the window start
    try:
        assert this_member() == "dana"
        svc.register_this_member()
        make_account("dana@x.test")

        def full_disk(*_a: object, **_k: object) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patched:
            patched.setattr(local, "write", full_disk)
            with pytest.raises(InvalidInput, match=r"could not be saved in team\.json \(No space"):
                svc.rename_this_member("Dana Scott")
        # The transaction did not commit: the member and the rows keep the old name.
        assert Account.get().owner == "dana" and TeamMember.get().name == "dana"
        assert this_member() == "dana" and local.read(data_dir) == {"member": "dana"}

        renamed = svc.rename_this_member("Dana Scott")
        assert renamed.note == "" and this_member() == "Dana Scott"
        assert local.read(data_dir) == {"member": "Dana Scott"}
        local.apply(data_dir)  # the next start registers the new name: no "dana" again
        svc.register_this_member()
        assert [m.name for m in svc.members()] == ["Dana Scott"]
        assert Account.get().owner == "Dana Scott"

        # MAILMONITOR_MEMBER names this copy: team.json is not what decides, the rep is told.
        monkeypatch.setenv(local.MEMBER_ENV, "Dana Scott")
        local.apply(data_dir)
        renamed = svc.rename_this_member("dscott")
        assert "MAILMONITOR_MEMBER: set it to dscott" in renamed.note
        assert this_member() == "dscott" and local.read(data_dir) == {"member": "Dana Scott"}
    finally:
        local._started.clear()

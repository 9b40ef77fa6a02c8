"""Issue 22: one table of bounds, held by every path a value can come in by. Each row of the
table is driven through adding a mailbox (the spec `accounts add` and the Add mailbox dialog
build), importing it (a CSV row) and editing it: the same values pass, the same values are
refused with the same one line, naming the value as it was typed. (The command line's own
wiring is tested in tests/unit/test_cli_bounds.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Campaign
from mailmonitor.services.accounts.adding import (
    AccountSpec,
    create_account,
    import_accounts,
    spec_from_row,
)
from mailmonitor.services.accounts.editing import AccountEdit, validate_edit
from mailmonitor.services.campaigns.editing import (
    CampaignEdit,
    edit_campaign,
    parse_auto_reallocate,
)
from mailmonitor.services.campaigns.setup import check_steps
from mailmonitor.services.common import bounds
from mailmonitor.services.common.validation import InvalidInput
from mailmonitor.services.desktop.settings import checked_settings
from tests.factories import make_account, make_campaign

BASE = {"email": "rep@example.com", "imap_host": "imap.example.com",
        "smtp_host": "smtp.example.com"}

# key in the table -> (the spec's field, the CSV column, the edit's field)
ACCOUNT_NUMBERS = {
    "daily_limit": ("daily_limit", "daily_limit", "daily_limit"),
    "min_gap_seconds": ("min_gap_seconds", "min_gap", "min_gap_seconds"),
    "imap_port": ("imap_port", "imap_port", "imap_port"),
    "smtp_port": ("smtp_port", "smtp_port", "smtp_port"),
}


def edge_values(key: str) -> list[tuple[object, str | None]]:
    """(value, None when it must pass, else words of the refusal) at the table's edges."""
    limits = bounds.NUMBERS[key]
    return [
        (limits.low, None), (limits.high, None), (str(limits.high), None),
        (limits.low - 1, f"{limits.what} {limits.low - 1} is too small"),
        (limits.high + 1, f"{limits.what} {limits.high + 1} is too large"),
        (str(limits.high + 1), f"{limits.what} {limits.high + 1} is too large"),
        ("12abc", f"{limits.what} '12abc' is not a whole number"),
        ("2.5", f"{limits.what} '2.5' is not a whole number"),
    ]


def via_add(field: str, value: object) -> Any:
    spec = AccountSpec(**BASE, **{field: value})  # type: ignore[arg-type]
    return getattr(spec.validated(), field)


def via_import(column: str, value: object) -> Any:
    spec, _ = spec_from_row({**BASE, column: str(value), "password": "pw"})
    field = "min_gap_seconds" if column == "min_gap" else column
    return getattr(spec, field)


def via_edit(field: str, value: object) -> Any:
    account = Account.get_or_none(Account.email == "box@example.com") or make_account(
        "box@example.com", daily_limit=7, min_gap_seconds=7, imap_port=7, smtp_port=7)
    return validate_edit(account, AccountEdit(**{field: value})).get(field)


PATHS: dict[str, Callable[[str, object], Any]] = {"add": via_add, "import": via_import,
                                                   "edit": via_edit}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("key", sorted(ACCOUNT_NUMBERS))
def test_every_path_holds_a_mailbox_number_to_the_same_bounds(db: Path, key: str,
                                                              path: str) -> None:
    field = ACCOUNT_NUMBERS[key][("add", "import", "edit").index(path)]
    for value, refusal in edge_values(key):
        if refusal is None:
            assert PATHS[path](field, value) == int(value), (path, value)  # type: ignore[call-overload]
        else:
            with pytest.raises(InvalidInput) as refused:
                PATHS[path](field, value)
            assert refusal in str(refused.value), (path, value)
            assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("path", "value"), [("add", 0), ("edit", 0), ("import", "0")])
def test_port_0_is_named_as_itself_not_taken_as_missing_or_as_nothing(
        db: Path, path: str, value: object) -> None:
    field = "imap_port"
    with pytest.raises(InvalidInput, match=r"^IMAP port 0 is too small \(at least 1\)$"):
        PATHS[path](field, value)


def test_a_bad_imap_port_is_reported_before_anything_about_smtp(db: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^IMAP port 99999 is too large"):
        AccountSpec(**BASE, imap_port=99999).validated()  # no SMTP port given: the usual one


@pytest.mark.parametrize(("imap", "smtp", "ports"), [
    ("ssl", "ssl", (993, 465)), ("starttls", "starttls", (143, 587)), ("", "", (993, 465)),
    ("plain", "starttls", (143, 587)),
])
def test_ports_left_out_are_the_usual_ones_for_the_security(
        db: Path, imap: str, smtp: str, ports: tuple[int, int]) -> None:
    spec = AccountSpec(email="rep@example.com", imap_host="127.0.0.1", smtp_host="127.0.0.1",
                       imap_security=imap, smtp_security=smtp).validated()
    assert (spec.imap_port, spec.smtp_port) == ports
    row, _ = spec_from_row({"email": "rep@example.com", "imap_host": "127.0.0.1",
                            "smtp_host": "127.0.0.1", "imap_security": imap,
                            "smtp_security": smtp, "imap_port": "", "password": "pw"})
    assert (row.imap_port, row.smtp_port) == ports


def test_the_edit_minimum_gap_has_the_same_ceiling_as_add(db: Path) -> None:
    account = make_account("box@example.com")
    with pytest.raises(InvalidInput, match="minimum gap 86401 is too large"):
        validate_edit(account, AccountEdit(min_gap_seconds="86401"))
    with pytest.raises(InvalidInput, match="minimum gap 86401 is too large"):
        AccountSpec(**BASE, min_gap_seconds=86401).validated()


@pytest.mark.parametrize(("field", "words"), [
    ("imap_host", "the IMAP host"), ("smtp_host", "the SMTP host")])
def test_an_empty_host_is_refused_on_every_path(db: Path, field: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=f"{words} is missing"):
        AccountSpec(**{**BASE, field: " "}).validated()
    with pytest.raises(InvalidInput, match=f"{words} is missing"):
        spec_from_row({**BASE, field: "", "password": "pw"})
    with pytest.raises(InvalidInput, match=f"^{words} is empty$"):
        validate_edit(make_account("box@example.com"), AccountEdit(**{field: ""}))


def test_an_edit_of_0_is_a_change_to_check_not_nothing_to_change(db: Path) -> None:
    assert not AccountEdit(daily_limit=0).is_empty()
    assert not AccountEdit(imap_port=0).is_empty()
    assert not AccountEdit(name="").is_empty()
    assert AccountEdit().is_empty()


def test_warmup_and_texts_follow_the_table(db: Path) -> None:
    with pytest.raises(InvalidInput, match="warm-up start 100001 is too large"):
        AccountSpec(**BASE, warmup=(100_001, 1)).validated()
    with pytest.raises(InvalidInput, match="warm-up start 100001 is too large"):
        spec_from_row({**BASE, "warmup": "100001:1", "password": "pw"})
    with pytest.raises(InvalidInput, match="warm-up start 100001 is too large"):
        validate_edit(make_account("box@example.com"), AccountEdit(warmup=(100_001, 1)))
    long_name = "N" * 201
    for attempt in (lambda: AccountSpec(**BASE, name=long_name).validated(),
                    lambda: spec_from_row({**BASE, "name": long_name, "password": "pw"}),
                    lambda: validate_edit(make_account("b2@example.com"),
                                          AccountEdit(name=long_name))):
        with pytest.raises(InvalidInput, match="the sender name is too long"):
            attempt()


def test_a_password_mailbox_without_a_password_is_refused_on_every_path(
        db: Path, data_dir: Path, clock: FakeClock) -> None:
    spec = AccountSpec(email="rep@gmail.com").validated()  # the Gmail preset, kind imap
    with pytest.raises(InvalidInput, match=r"rep@gmail\.com signs in with a password, and none "
                                           r"was given .* or --kind gmail"):
        create_account(spec, None, clock.now())
    csv = data_dir / "accounts.csv"
    csv.write_text("email,imap_host,smtp_host\nrep@example.com,imap.example.com,"
                   "smtp.example.com\n")
    with pytest.raises(InvalidInput, match=r"line 2: rep@example\.com signs in with a password"):
        import_accounts(csv, clock.now())
    assert Account.select().count() == 0
    # A Google mailbox without one signs in through the browser: that is not refused here.
    oauth = create_account(AccountSpec(email="rep@gmail.com", kind="gmail").validated(), None,
                           clock.now())
    assert oauth.auth_method == "oauth2"


@pytest.mark.parametrize(("value", "result"), [
    ("off", None), ("1", 1), ("43200", 43_200),
    ("0", "--auto-reallocate 0 is too small (at least 1 minute)"),
    ("43201", "--auto-reallocate 43201 is too large (at most 43,200 minutes)"),
    ("", "--auto-reallocate is empty"), ("soon", "--auto-reallocate 'soon' is not a whole")])
def test_automatic_reallocation_is_1_to_43200_minutes_or_off(
        db: Path, clock: FakeClock, value: str, result: object) -> None:
    if isinstance(result, str):
        with pytest.raises(InvalidInput) as refused:
            parse_auto_reallocate(value)
        assert str(refused.value).startswith(result)
    else:
        assert parse_auto_reallocate(value) == result
    # The window hands a number straight to the service: held to the same bounds.
    campaign = make_campaign("Spring", [make_account(f"m{len(value)}@example.com")])
    minutes = 0 if value in ("0", "") else 43_201 if value == "43201" else None
    if minutes is not None:
        with pytest.raises(InvalidInput, match=r"too large|too small"):
            edit_campaign(campaign, CampaignEdit(auto_reallocate_minutes=minutes,
                                                 set_auto_reallocate=True), clock.now())
        assert Campaign.get_by_id(campaign.id).auto_reallocate_minutes is None


def test_step_delays_and_texts_follow_the_table() -> None:
    assert check_steps([{"subject": "Hi", "body": "B", "delay_days": 3650}])[0]["delay_days"] \
        == 3650
    with pytest.raises(InvalidInput, match=r"step 1 delay_days 3650\.5 is too large"):
        check_steps([{"subject": "Hi", "body": "B", "delay_days": 3650.5}])
    with pytest.raises(InvalidInput, match="step 1's subject is too long"):
        check_steps([{"subject": "S" * 1001, "body": "B"}])


@pytest.mark.parametrize(("key", "value", "words"), [
    ("check_interval_seconds", 30, "check interval 30 is too small"),
    ("grace_period_minutes", 10_081, "grace period 10081 is too large"),
    ("auto_reallocate_minutes", 0, "automatic re-allocation 0 is too small"),
    ("password_rotation_days", 3651, "password reminder 3651 is too large"),
    ("round_trip_timeout_seconds", 0, "round-trip timeout 0 is too small"),
])
def test_settings_are_held_to_the_table(db: Path, key: str, value: int, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        checked_settings({key: value})
    assert checked_settings({key: None}) == {key: None}  # off stays off

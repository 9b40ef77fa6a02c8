"""The alerts list, the banner and the tray render one attention model (issue 25): state in the
database → reconcile → one card per cause in the model's order, the banner shows the top
condition only, a reconnect makes the card and the banner go after the next reconcile, a mute
greys the card and takes it out of the banner and the tray."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account, Alert, Campaign, DomainAuth, Lead, SendRecord
from mailmonitor.services.alerts import reconciler
from mailmonitor.services.alerts.cards import clock_words
from mailmonitor.services.campaigns import lifecycle
from mailmonitor.services.monitoring import maintenance
from mailmonitor.services.monitoring.account_state import update_status
from mailmonitor.ui.alert_card import AlertCard
from mailmonitor.ui.main_window import MainWindow
from tests.factories import make_account, make_campaign, make_lead, make_leads, reload
from tests.ui.helpers import RIGHT, FakeCheck, run

pytestmark = pytest.mark.ui

DOMAIN = "northwind.example"


def dns_problem(now: Any) -> None:
    DomainAuth.create(domain=DOMAIN, checked_at=now, result={"findings": [
        {"name": "SPF", "status": "wrong", "summary": "The SPF record does not authorise the "
         "mail server.", "fix": "Add include:mail.example to it."},
        {"name": "DMARC", "status": "missing", "summary": f"{DOMAIN} has no DMARC record.",
         "fix": "Add a TXT record at _dmarc."}]})


@pytest.fixture
def office(db: Path, clock: FakeClock) -> dict[str, Account]:
    """Four mailboxes of one domain; three of them fail with the same reason on one server,
    and the domain's SPF and DMARC are wrong. Reconciled once, as the background loop would."""
    people = {n: make_account(f"{n}@{DOMAIN}") for n in ("ava", "ben", "cleo", "dan")}
    q4 = make_campaign("Q4 outreach", list(people.values()))
    for name, account in people.items():
        make_leads(q4, account, 3, prefix=name)
    for name in ("ben", "cleo", "dan"):
        update_status(people[name], "disconnected", "invalid_credentials",
                      f"535 5.7.8 {name}: Username and Password not accepted", clock.now())
    dns_problem(clock.now())
    reconciler.reconcile(clock.now())
    return {n: reload(a) for n, a in people.items()}


def titles(window: MainWindow) -> list[str]:
    assert window.alerts_dialog is not None
    return [c.card.title for c in window.alerts_dialog.cards]


def card_of(window: MainWindow, kind: str) -> AlertCard:
    assert window.alerts_dialog is not None
    return next(c for c in window.alerts_dialog.cards if c.card.kind == kind)


def test_one_card_per_cause_in_the_models_order(
        office: dict[str, Account], make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    dialog = window.open_alerts()
    # Six alerts' worth of trouble, two causes: two cards (before: one per mailbox and one
    # per mailbox again for the DNS check).
    assert dialog.header.text() == "2 things need you"
    assert window.alerts_action.text() == "Alerts (2)"
    assert titles(window) == [
        "3 mailboxes on imap.example.com are disconnected: Invalid Credentials",
        f"{DOMAIN}: SPF and DMARC are missing or wrong"]
    assert [c.key for c in dialog.cards] == [a.key for a in reconciler.open_conditions()]
    broken, dns = dialog.cards
    assert broken.mailbox_label is not None and broken.mailbox_label.text() == \
        f"ben@{DOMAIN}, cleo@{DOMAIN}, dan@{DOMAIN}"
    assert dns.mailbox_label is not None and dns.mailbox_label.text() == \
        f"ava@{DOMAIN}, ben@{DOMAIN}, cleo@{DOMAIN}, dan@{DOMAIN}"
    assert [label.text() for label in broken.campaign_labels] == ["“Q4 outreach”"]
    # Severity as colour, icon and word; a connected mailbox (ava) can take the waiting leads.
    assert broken.property("severity") == "critical" and broken.severity.text() == "CRITICAL"
    assert dns.severity.text() == "WARNING"
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    assert list(broken.campaign_buttons) == [q4.id]
    assert broken.campaign_buttons[q4.id].text() == "Re-allocate…"
    # Plain words in the body; each server's exact answer only under Details.
    assert "535" not in broken.text()
    assert broken.details.body.text().splitlines() == [
        f"{n}@{DOMAIN}: 535 5.7.8 {n}: Username and Password not accepted"
        for n in ("ben", "cleo", "dan")]
    assert list(dns.action_buttons) == ["check_dns"]
    assert dns.action_buttons["check_dns"].text() == "Check DNS"


def test_reconnect_of_a_card_naming_several_mailboxes_asks_which(
        office: dict[str, Account], make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.open_alerts()
    broken = card_of(window, "mailbox_broken")
    button = broken.action_buttons["reconnect"]
    assert button.text() == "Reconnect…"
    menu = button.menu()
    assert isinstance(menu, QMenu)
    assert [a.text() for a in menu.actions()] == [f"{n}@{DOMAIN}" for n in ("ben", "cleo",
                                                                             "dan")]
    menu.actions()[1].trigger()
    wizard = window.wizards[office["cleo"].id]
    assert wizard.isVisible() and wizard.stack.currentWidget() is wizard.connection_page
    wizard.reject()

    broken.campaign_buttons[Campaign.get().id].click()
    assert window.reallocate_dialog is not None and window.reallocate_dialog.isVisible()


def test_the_banner_shows_the_top_condition_only(
        office: dict[str, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock) -> None:
    window = make_window()
    window.show()
    assert window.attention.isVisible() and not window.notice.isVisible()
    top = reconciler.open_conditions()[0]
    assert window.attention.text.text() == f"<b>{top.title}</b>"
    assert [b.text() for b in window.attention.buttons()] == ["Reconnect…", "Show alerts (2)"]
    assert window.attention_line.text().startswith(f"2 things need you — {top.title}"[:40])
    window.attention.buttons()[1].click()
    assert window.alerts_dialog is not None and window.alerts_dialog.isVisible()


def test_a_deadline_stands_at_the_top_of_its_card_and_of_the_banner(
        db: Path, clock: FakeClock, make_window: Callable[..., MainWindow]) -> None:
    finn = make_account("finn@northwind.example")
    founders = make_campaign("Founders list", [finn, make_account("eve@fieldsales.example")])
    make_leads(founders, finn, 4)
    lifecycle.disconnect(finn, clock.now())  # the grace period starts (1 hour)
    dns_problem(clock.now())
    clock.advance(minutes=18)
    reconciler.reconcile(clock.now())
    window = make_window()
    window.show()
    window.open_alerts()
    grace = window.alerts_dialog.cards[0]  # type: ignore[union-attr]
    assert grace.card.kind == "grace_ending"
    deadline = grace.card.deadline
    assert deadline is not None
    assert grace.deadline.isVisible()
    assert grace.deadline.text() == \
        f"Emailed leads stopped for good in 42 min — {clock_words(deadline, clock.now())}"
    assert f"Emailed leads stopped for good in 42 min — {clock_words(deadline, clock.now())}" in \
        window.attention.text.text()
    # The time left is rendered when shown, never stored: it ticks on with the clock.
    clock.advance(minutes=12)
    window.ctx.attention.refresh()
    assert grace.deadline.text().startswith("Emailed leads stopped for good in 30 min")
    assert "Emailed leads stopped for good in 30 min" in window.attention.text.text()


def test_a_reconnect_makes_the_card_and_the_banner_go(
        office: dict[str, Account], make_window: Callable[..., MainWindow],
        fake_check: FakeCheck, qloop: qasync.QEventLoop, settle: Callable[[], None],
        qtbot: Any) -> None:
    DomainAuth.delete().execute()  # the DNS card would stay: only the mailboxes' card matters
    for name in ("ben", "dan"):
        update_status(office[name], "connected", None, "", reload(office[name]).status_since)
    reconciler.reconcile(reload(office["cleo"]).status_since)
    fake_check.passwords[office["cleo"].email] = RIGHT
    window = make_window()
    window.show()
    dialog = window.open_alerts()
    assert titles(window) == [f"cleo@{DOMAIN} is disconnected: Invalid Credentials"]
    assert window.attention.isVisible()

    dialog.cards[0].action_buttons["reconnect"].click()  # one mailbox: no menu
    wizard = window.wizards[office["cleo"].id]
    wizard.connection_page.password.setText(RIGHT)
    wizard.connection_page.next.click()
    run(qloop, window)
    wizard.ready_page.save.click()
    run(qloop, window)
    settle()
    # Save & Resume reconciles at once: no card, no banner, nothing left to count.
    assert reload(office["cleo"]).status == "connected"
    assert Alert.select().where(Alert.resolved_at.is_null()).count() == 0
    qtbot.waitUntil(lambda: titles(window) == [], timeout=1000)
    assert dialog.header.text() == "Nothing needs you right now"
    assert not window.attention.isVisible()
    assert window.alerts_action.text() == "Alerts"
    assert window.attention_line.text() == "Nothing needs you right now"


def test_mute_greys_the_card_and_takes_it_out_of_the_banner_and_the_tray(
        office: dict[str, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock, qtbot: Any) -> None:
    window = make_window(use_tray=True)
    window.show()
    dialog = window.open_alerts()
    assert window.tray.tooltip.splitlines()[1:] == [
        "2 things need you:", *(f"• {t}" for t in titles(window))]
    assert window.tray.tray is not None and window.tray.tray.toolTip() == window.tray.tooltip

    broken = card_of(window, "mailbox_broken")
    broken.mute_button.click()
    mute = dialog.mute_dialog
    assert mute is not None and mute.isVisible()
    assert mute.until.choice.currentText() == "For 1 hour"
    assert mute.also.isHidden()  # the DNS card names ava too: it stays
    qtbot.keyClicks(mute.note, "provider maintenance")
    qtbot.keyClick(mute.note, Qt.Key.Key_Return)  # Enter = Mute
    assert not mute.isVisible()
    windows = maintenance.active_windows(clock.now())  # one per mailbox of the card
    assert sorted(w.target for w in windows) == sorted(broken.card.emails)
    assert {w.note for w in windows} == {"provider maintenance"}

    # Greyed, at the end of the list, saying until when and why; not counted.
    muted = dialog.cards[-1]
    assert muted.card.kind == "mailbox_broken" and muted.property("muted") is True
    until = clock_words(clock.now() + timedelta(hours=1), clock.now())
    assert muted.muted_line.text() == f"Muted until {until} (provider maintenance)"
    assert muted.mute_button.text() == "Maintenance…"
    assert dialog.header.text() == "1 thing needs you · 1 muted"
    assert window.alerts_action.text() == "Alerts (1)"
    # The rest speaks of ava only (the muted mailboxes have no condition of their own).
    dns = dialog.cards[0]
    assert dns.card.kind == "dns_problem" and dns.card.emails == [f"ava@{DOMAIN}"]
    # The banner and the tray speak of what is not muted only.
    assert window.attention.text.text() == f"<b>{dns.card.title}</b>"
    assert [b.text() for b in window.attention.buttons()] == ["Check DNS"]
    assert "Invalid Credentials" not in window.tray.tooltip
    assert window.tray.tooltip.splitlines()[1:] == ["1 thing needs you:", f"• {dns.card.title}"]
    assert [a.text() for a in window.tray.condition_actions] == [
        f"{dns.card.title} — Check DNS"]

    # Muting the last one: nothing needs the rep; the banner goes.
    dns.mute_button.click()
    assert dialog.mute_dialog is not None
    dialog.mute_dialog.mute_button.click()
    assert dialog.header.text() == "Nothing needs you right now · 2 muted"
    assert not window.attention.isVisible()
    assert window.tray.tooltip.splitlines()[1:] == []


def test_the_tray_lists_the_conditions_in_the_models_order_with_their_action(
        office: dict[str, Account], make_window: Callable[..., MainWindow]) -> None:
    window = make_window(use_tray=True)
    order = [a.title for a in reconciler.open_conditions()]
    assert window.tray.tooltip.splitlines()[2:] == [f"• {t}" for t in order]
    menu = window.tray.menu
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[1:3] == [f"{order[0]} — Reconnect", f"{order[1]} — Check DNS"]
    # Reconnect of three mailboxes: a submenu picks one.
    submenu = window.tray.condition_actions[0].menu()
    assert submenu is not None
    submenu.actions()[2].trigger()
    assert window.wizards[office["dan"].id].isVisible()


def test_emails_that_may_not_have_gone_out_are_settled_from_their_card(
        db: Path, clock: FakeClock, make_window: Callable[..., MainWindow],
        settle: Callable[[], None]) -> None:
    from mailmonitor.services.sending import sendlog

    ava = make_account("ava@northwind.example")
    campaign = make_campaign("Q4 outreach", [ava])
    lead = make_lead(campaign, "lead@x.example", ava)
    record = sendlog.start_attempt(lead, 0, ava, "<maybe@x>", "Hi", clock.now())
    sendlog.mark_sent(record, clock.now(), state="unknown")
    reconciler.reconcile(clock.now())
    window = make_window()
    window.open_alerts()
    card = card_of(window, "send_unknown")
    assert list(card.action_buttons) == ["check_sent", "send_again"]
    assert [b.text() for b in card.action_buttons.values()] == ["They went out", "Send again"]
    card.action_buttons["send_again"].click()
    settle()
    assert SendRecord.get_by_id(record.id).state == "failed"
    assert (Lead.get_by_id(lead.id).cursor, Lead.get_by_id(lead.id).state) == (0, "pending")
    assert titles(window) == []  # reconciled at once


def test_keyboard_enter_acts_on_the_top_card_esc_closes_and_it_fits_a_small_screen(
        office: dict[str, Account], make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    dialog = window.open_alerts()
    assert dialog.height() <= 728 - 40  # 1366×768 with a panel: the list scrolls inside
    top = dialog.cards[0]
    assert dialog.focusWidget() is top.primary  # not Mute…, not Close
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    assert dialog.focusWidget() is not top.primary
    # Enter on the DNS card's button does the DNS card's action: its mailbox's Deliverability.
    dns = card_of(window, "dns_problem")
    dns.mute_button.setFocus()
    qtbot.keyClick(dns.mute_button, Qt.Key.Key_Return)
    detail = window.account_dialogs[office["ava"].id]
    assert detail.isVisible() and detail.tabs.currentWidget() is detail.deliverability
    detail.close()
    dialog.activateWindow()
    qtbot.keyClick(dialog.close_button, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_cards_that_did_not_change_stay_in_place(
        office: dict[str, Account], make_window: Callable[..., MainWindow],
        clock: FakeClock) -> None:
    window = make_window()
    dialog = window.open_alerts()
    first, second = dialog.cards
    clock.advance(minutes=5)
    update_status(office["ben"], "connected", None, "", clock.now())
    reconciler.reconcile(clock.now())
    window.ctx.attention.refresh()
    assert dialog.cards[1] is second  # the DNS card: same widget, same place
    assert dialog.cards[0] is not first  # the broken card names two mailboxes now
    assert dialog.cards[0].card.title == \
        "2 mailboxes on imap.example.com are disconnected: Invalid Credentials"

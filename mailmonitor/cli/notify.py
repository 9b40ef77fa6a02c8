"""`mailmonitor notify add|list|test|remove`: alert channels from the command line.

    notify add NAME --email ADDRESS [--from MAILBOX | --relay HOST[:PORT] --relay-from ADDRESS
                    [--relay-security ssl|starttls|plain] [--relay-user USER] [--password-stdin]]
                    [--events all|EVENT,EVENT…]
    notify add NAME --slack URL [--events …]
    notify add NAME --webhook URL [--secret-stdin] [--events …]
    notify list [--json]
    notify test NAME          # sends a test message now; exit 0 when it arrived
    notify remove NAME
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, Command, Parser, Subparsers, print_json
from mailmonitor.services.alerts.subscriptions import EVENT_NAMES


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    notify = sub.add_parser("notify", parents=[common], help="alert channels: email, Slack, "
                            "webhooks")
    nt = notify.add_subparsers(dest="action", required=True, parser_class=Parser,
                               metavar="ACTION")
    add = nt.add_parser("add", parents=[common], help="add an alert channel")
    add.add_argument("name", metavar="NAME", help="a name for the channel")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--email", metavar="ADDRESS", help="email alerts to this address")
    where.add_argument("--slack", metavar="URL", help="a Slack-compatible incoming webhook")
    where.add_argument("--webhook", metavar="URL", help="a generic JSON webhook")
    add.add_argument("--events", default="all",
                     help="all, or a comma-separated list of: " + ", ".join(EVENT_NAMES))
    add.add_argument("--from", dest="from_email", metavar="MAILBOX",
                     help="email: the mailbox to send from (default: any connected one)")
    add.add_argument("--relay", metavar="HOST[:PORT]", help="email: send through this SMTP relay")
    add.add_argument("--relay-security", choices=["ssl", "starttls", "plain"],
                     metavar="ssl|starttls|plain", help="email: the relay's connection security")
    add.add_argument("--relay-user", default="", metavar="U", help="email: the relay's login")
    add.add_argument("--relay-from", metavar="ADDRESS", help="email: the sender on the relay")
    add.add_argument("--password-stdin", action="store_true", help="the relay's password")
    add.add_argument("--secret-stdin", action="store_true",
                     help="webhook: sign requests with this secret (HMAC-SHA256)")
    lst = nt.add_parser("list", parents=[common], help="the channels and how delivery goes")
    lst.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (("test", "send a test message now"), ("remove", "remove a channel")):
        nt.add_parser(name, parents=[common], help=text).add_argument(
            "name", metavar="NAME", help="the channel")
    return {"notify": cmd_notify}


def _stdin_line(flag: str) -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        from mailmonitor.services.common.validation import InvalidInput

        raise InvalidInput(f"{flag} was given but standard input was empty")
    return value


def _relay(args: argparse.Namespace) -> dict[str, Any] | None:
    from mailmonitor.services.common import bounds
    from mailmonitor.services.common.validation import InvalidInput

    if args.relay is None:
        if args.relay_from or args.relay_user or args.relay_security or args.password_stdin:
            raise InvalidInput("--relay-from, --relay-user, --relay-security and "
                               "--password-stdin need --relay HOST[:PORT]")
        return None
    bounds.required("relay_host", args.relay)  # `--relay ""` is not "no relay"
    host, _, port = args.relay.rpartition(":") if ":" in args.relay else (args.relay, "", "")
    if args.relay_from is not None:
        bounds.required("relay_from", args.relay_from)
    return {"host": host or args.relay,
            "port": bounds.number("relay_port", port) if port else None,
            "security": args.relay_security, "username": args.relay_user,
            "from": args.relay_from}


def cmd_notify(args: argparse.Namespace, now: datetime) -> int:
    from mailmonitor.clock import SystemClock
    from mailmonitor.services.alerts import manage, outbox
    from mailmonitor.services.alerts.channels import DeliveryError
    from mailmonitor.services.common.validation import InvalidInput

    if args.action == "add":
        # Exactly one of them was given (argparse): an empty one is bad input, said by the
        # channel's own check ("the webhook URL is empty").
        kind, target = next((k, v) for k, v in (("email", args.email), ("slack", args.slack),
                                                 ("webhook", args.webhook)) if v is not None)
        if args.from_email is not None:
            from mailmonitor.services.common import bounds

            bounds.required("mailbox", args.from_email)
        try:
            from mailmonitor.services.alerts.subscriptions import parse_events

            events = parse_events(args.events)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        relay = _relay(args)
        if args.secret_stdin and args.password_stdin:
            raise InvalidInput("give either --secret-stdin or --password-stdin")
        if args.secret_stdin and kind != "webhook":
            raise InvalidInput("--secret-stdin signs JSON webhooks (--webhook URL)")
        secret = _stdin_line("--secret-stdin") if args.secret_stdin else \
            _stdin_line("--password-stdin") if args.password_stdin else None
        spec = manage.ChannelSpec(args.name, kind, target, events, args.from_email, relay, secret)
        channel = manage.add_channel(spec, now)
        print(f"Added alert channel {channel.name!r} ({kind}: "
              f"{manage.channel_summary(channel)['target']}) for "
              + ("every event" if len(events) == len(EVENT_NAMES) else ", ".join(events))
              + ". Try it: mailmonitor notify test " + _quoted(channel.name))
        return EXIT_OK
    if args.action == "list":
        rows = [manage.channel_summary(c) for c in manage.list_channels()]
        if args.json:
            print_json(rows)
        elif not rows:
            print("No alert channels yet: add one with `mailmonitor notify add NAME --email "
                  "ADDRESS` (or --slack URL, --webhook URL)")
        else:
            for row in rows:
                state = "off" if not row["enabled"] else \
                    f"failing: {row['last_error']}" if row["last_error"] else "ok"
                print(f"{row['name']:24} {row['kind']:8} {row['target']:40} "
                      f"{row['sent']} sent, {row['waiting']} waiting  {state}")
        return EXIT_OK
    channel = manage.find_channel(args.name)
    if args.action == "remove":
        waiting = manage.remove_channel(channel, now)
        print(f"Removed alert channel {channel.name!r}"
              + (f" ({waiting} undelivered alerts dropped)" if waiting else ""))
        return EXIT_OK
    try:  # bounded as a whole (20 s, MAILMONITOR_NOTIFY_DEADLINE), however slow the receiver
        outbox.send_test(channel, SystemClock(), outbox.delivery_deadline())
    except DeliveryError as exc:
        print(f"mailmonitor: the test to {channel.name!r} did not arrive: {exc.text}",
              file=sys.stderr)
        return EXIT_FAILED
    print(f"Sent a test alert to {channel.name!r}")
    return EXIT_OK


def _quoted(name: str) -> str:
    return f"'{name}'" if any(c.isspace() for c in name) else name

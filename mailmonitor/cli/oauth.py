"""`mailmonitor oauth setup`: the team's Google and Microsoft client registrations, entered once.

    mailmonitor oauth setup --google-client-json client_secret_….json
    mailmonitor oauth setup --google-client-id ID --google-client-secret S
    mailmonitor oauth setup --ms-client-id GUID [--ms-authority URL]
    mailmonitor oauth setup --clear google|microsoft
    mailmonitor oauth setup --show

Client IDs are stored as settings, the Google client secret in the OS keyring; environment
variables still override (``--show`` says which applies). Bad input: one line, exit 3, nothing
changed; a keyring that refuses the secret: exit 1, nothing changed."""

from __future__ import annotations

import argparse
from datetime import datetime

from mailmonitor.cli.common import EXIT_OK, Command, Parser, Subparsers, UsageError


def add_parser(sub: Subparsers, common: Parser) -> dict[str, Command]:
    oauth = sub.add_parser("oauth", parents=[common],
                           help="Google and Microsoft sign-in for this team")
    actions = oauth.add_subparsers(dest="action", required=True, parser_class=Parser,
                                   metavar="ACTION")
    setup = actions.add_parser(
        "setup", parents=[common], help="enter the team's client registrations once",
        description="Stores the Google and Microsoft desktop client registrations (client IDs "
                    "as settings, the Google client secret in the OS keyring). Environment "
                    "variables MAILMONITOR_GOOGLE_CLIENT_ID, MAILMONITOR_MS_CLIENT_ID, … still "
                    "override them.")
    setup.add_argument("--google-client-json", metavar="FILE",
                       help="the client_secret_….json Google Cloud console downloads for a "
                            "Desktop app client")
    setup.add_argument("--google-client-id", metavar="ID", help="Google desktop client ID")
    setup.add_argument("--google-client-secret", metavar="SECRET",
                       help="its client secret (kept in the OS keyring)")
    setup.add_argument("--google-auth-uri", metavar="URL",
                       help="Google's authorization endpoint (default: Google's own)")
    setup.add_argument("--google-token-uri", metavar="URL",
                       help="Google's token endpoint (default: Google's own)")
    setup.add_argument("--ms-client-id", metavar="GUID",
                       help="Microsoft Entra application (client) ID")
    setup.add_argument("--ms-authority", metavar="URL",
                       help="Microsoft authority, default https://login.microsoftonline.com/"
                            "common (or …/organizations, …/<tenant id>)")
    setup.add_argument("--clear", choices=["google", "microsoft"], action="append",
                       metavar="google|microsoft", help="forget a stored registration")
    setup.add_argument("--show", action="store_true",
                       help="print what is set up and where it comes from (never the secret)")
    return {"oauth": cmd_oauth}


def cmd_oauth(args: argparse.Namespace, _now: datetime) -> int:
    from mailmonitor.services.auth import registration as reg

    google_fields = (args.google_client_id, args.google_client_secret, args.google_auth_uri,
                     args.google_token_uri)
    wants_google = args.google_client_json is not None or any(v is not None
                                                             for v in google_fields)
    wants_ms = args.ms_client_id is not None or args.ms_authority is not None
    if not (wants_google or wants_ms or args.clear or args.show):
        raise UsageError("say what to set up: --google-client-json FILE, --google-client-id ID "
                         "--google-client-secret S, --ms-client-id ID, --clear PROVIDER or "
                         "--show")
    try:
        return _setup(args, wants_google, wants_ms)
    except reg.RegistrationError as exc:
        raise UsageError(str(exc)) from None


def _setup(args: argparse.Namespace, wants_google: bool, wants_ms: bool) -> int:
    from mailmonitor.services.auth import registration as reg

    google: dict[str, str] | None = None
    if wants_google:
        if args.google_client_json is not None:
            if args.google_client_id is not None or args.google_client_secret is not None:
                raise UsageError("give either --google-client-json or --google-client-id with "
                                 "--google-client-secret, not both")
            google = reg.parse_google_client_json(args.google_client_json)
        else:
            if not args.google_client_id or args.google_client_secret is None:
                raise UsageError("--google-client-id and --google-client-secret go together "
                                 "(or use --google-client-json FILE)")
            google = {"client_id": args.google_client_id,
                      "client_secret": args.google_client_secret}
        for key in ("auth_uri", "token_uri"):
            value = getattr(args, f"google_{key}")
            if value is not None:
                google[key] = value
    if wants_ms and not args.ms_client_id:
        raise UsageError("--ms-authority needs --ms-client-id")
    if args.clear and ((wants_google and "google" in args.clear)
                       or (wants_ms and "microsoft" in args.clear)):
        raise UsageError("--clear and new values for the same provider contradict each other")
    # Validate everything before storing anything.
    if google is not None:
        reg.check_google(google["client_id"], google["client_secret"],
                         google.get("auth_uri"), google.get("token_uri"))
    if wants_ms:
        reg.check_microsoft(args.ms_client_id, args.ms_authority)
    done: list[str] = []
    if google is not None:
        reg.save_google(google["client_id"], google["client_secret"],
                        google.get("auth_uri"), google.get("token_uri"))
        done.append("Google sign-in is set up")
    if wants_ms:
        reg.save_microsoft(args.ms_client_id, args.ms_authority)
        done.append("Microsoft sign-in is set up")
    for provider in args.clear or []:
        reg.clear(provider)
        done.append(f"the stored {provider.capitalize()} registration is forgotten")
    if done:
        said = "; ".join(done)
        print(said[:1].upper() + said[1:] + ".")
    if args.show or done:
        for registration in reg.registrations():
            print(registration.describe())
    return EXIT_OK

"""``haven room …``: the operators' API from the command line (a running Haven holds the room,
whichever store it uses, so the command talks to it rather than to the store)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from haven.settings import Settings
from haven.shield.admin import ADMIN_PATH
from haven.shield.shuffle import Shuffle


def room_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "shuffle":
        if args.size < 0:
            print("haven: --size must not be negative", file=sys.stderr)
            return 2
        for place, number in enumerate(Shuffle(args.seed, args.size).order(), start=1):
            print(place, number)
        return 0
    body: dict[str, Any] | None = None
    if args.action in ("pause", "resume", "open"):
        body = {"action": args.action}
    elif args.action == "rate":
        body = {"action": "rate", "rate": args.per_second}
    elif args.action == "schedule":
        body = {"action": "schedule", "start": args.start, **({"seed": args.seed} if args.seed else {})}
    base = (args.url or settings.base_url).rstrip("/")
    request = urllib.request.Request(  # noqa: S310 - the operator's own Haven, http(s) only
        base + ADMIN_PATH,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"Bearer {settings.admin_token}", "Content-Type": "application/json"},
    )
    if not base.startswith(("http://", "https://")):
        print("haven: --url must start with http:// or https://", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - checked above
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(f"haven: {error.code}: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"haven: cannot reach {base}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0

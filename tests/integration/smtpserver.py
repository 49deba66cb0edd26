#!/usr/bin/python3
"""An SMTP server for the mail tests: Debian's python3-aiosmtpd on 127.0.0.1 that keeps
every message it accepts as files, and that misbehaves on request. It never offers
STARTTLS (it has no certificate), so AUTH is allowed in the clear.

Usage: smtpserver.py --port N --dir DIR [--ready-file PATH] [--auth USER:PASS]
                     [--reject-rcpt CODE] [--delay SECONDS] [--delay-on data|rcpt]
                     [--until-eof]

  --port N            listen on 127.0.0.1:N
  --dir DIR           where accepted messages go (created if missing)
  --ready-file PATH   written (empty) once the server answers connections
  --auth USER:PASS    require AUTH PLAIN or LOGIN with exactly these credentials before
                      MAIL (530 otherwise; 535 for wrong ones)
  --reject-rcpt CODE  answer every RCPT TO with CODE (e.g. 550, 451) and a short text
  --delay SECONDS     wait this long before answering, by default, the end of the
                      message data (the message is saved when the answer goes out,
                      even if the client gave up meanwhile)
  --delay-on STAGE    which answer waits: "data" (the end of the message) or "rcpt"
  --until-eof         also stop when stdin reaches end of file, so a test that gives
                      it a pipe never leaves it running

Each accepted message is two files named by a sortable stamp, oldest first:
STAMP.eml, the data bytes exactly as received (dot-stuffing undone), and then
STAMP.json, {"mail_from", "rcpt_tos", "data_file", "auth_login", "received_at"}.
The .json appears only once the .eml is complete. Stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REPLY_TEXT = {
    "4": "4.3.0 Mailbox temporarily unavailable, try again later",
    "5": "5.1.1 Mailbox unavailable",
}


class Keeper:
    """The aiosmtpd handler: refuses recipients or slows down as told, saves the rest."""

    def __init__(self, args):
        self.dir = args.dir
        self.reject_rcpt = args.reject_rcpt
        self.delay = args.delay
        self.delay_on = args.delay_on
        self.sequence = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.delay and self.delay_on == "rcpt":
            await asyncio.sleep(self.delay)
        if self.reject_rcpt is not None:
            code = str(self.reject_rcpt)
            return "%s %s" % (code, REPLY_TEXT.get(code[0], "Refused"))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay and self.delay_on == "data":
            await asyncio.sleep(self.delay)
        self.save(session, envelope)
        return "250 OK: queued"

    def save(self, session, envelope):
        # Nanoseconds and a counter: sortable across restarts on the same directory.
        stamp = "%020d-%06d" % (time.time_ns(), next(self.sequence))
        data_file = stamp + ".eml"
        with open(os.path.join(self.dir, data_file), "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data_file": data_file,
            "auth_login": session.auth_data,
            "received_at": time.time(),
        }
        tmp = os.path.join(self.dir, stamp + ".json.tmp")
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.rename(tmp, os.path.join(self.dir, stamp + ".json"))


def authenticator_for(credentials):
    user, _, password = credentials.partition(":")
    expected = LoginPassword(user.encode(), password.encode())

    def authenticate(server, session, envelope, mechanism, auth_data):
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if auth_data.login != expected.login or auth_data.password != expected.password:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=user)

    return authenticate


def parse_args(argv):
    p = argparse.ArgumentParser(description="SMTP server for the ictmon mail tests")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--ready-file")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--reject-rcpt", type=int, metavar="CODE")
    p.add_argument("--delay", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--delay-on", choices=("data", "rcpt"), default="data")
    p.add_argument("--until-eof", action="store_true")
    args = p.parse_args(argv)
    if args.reject_rcpt is not None and not 400 <= args.reject_rcpt <= 599:
        p.error("--reject-rcpt takes a 4xx or 5xx code")
    if args.auth is not None and ":" not in args.auth:
        p.error("--auth takes USER:PASS")
    return args


def main(argv):
    args = parse_args(argv)
    # AUTH without TLS is what a loopback test wants; aiosmtpd warns about it.
    warnings.filterwarnings("ignore", module="aiosmtpd")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    os.makedirs(args.dir, exist_ok=True)
    params = {}
    if args.auth is not None:
        params.update(authenticator=authenticator_for(args.auth), auth_required=True,
                      auth_require_tls=False)
    controller = Controller(Keeper(args), hostname="127.0.0.1", port=args.port,
                            **params)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    try:
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w"):
                pass
            os.rename(tmp, args.ready_file)
        if args.until_eof:
            def watch_stdin():
                while sys.stdin.buffer.read(4096):
                    pass
                stop.set()
            threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

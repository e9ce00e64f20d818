#!/usr/bin/python3
"""A real SMTP server for Tabibu's email tests, on Debian's python3-aiosmtpd.

    smtp_sink.py --port N --out DIR [--tls none|starttls|implicit --cert PEM --key PEM]
                 [--user U --password P]

Every message it accepts is parsed with Python's own email package and written to DIR as one
JSON file (envelope, headers, the decoded plain-text and HTML parts, whether the session was
encrypted), then answered with 250. The file is complete before the 250 goes out, so a test
that saw the client succeed finds the message.

A test steers it while it runs:
- a recipient whose address starts with "refuse" is refused at RCPT with 550 (permanent);
- while the file DIR/defer exists, every recipient gets 451 (try again later);
- when the file DIR/vanish exists, the next DATA removes it and the process dies on the
  spot, before storing or answering: a server that vanishes mid-send.

It prints "ready" once it accepts connections and stops on SIGTERM.
"""

import argparse
import email
import json
import os
import signal
import ssl
import sys
import threading
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "550 5.1.1 Mailbox unavailable"
        if os.path.exists(os.path.join(self.out, "defer")):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        vanish = os.path.join(self.out, "vanish")
        if os.path.exists(vanish):
            os.remove(vanish)
            os._exit(3)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["from"]),
            "to": str(message["to"]),
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "date": str(message["date"]),
            "content_type": message.get_content_type(),
            "text": plain.get_content() if plain is not None else None,
            "html": html.get_content() if html is not None else None,
            # After STARTTLS, or from the first byte (implicit TLS).
            "encrypted": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
        }
        with self.lock:
            self.count += 1
            name = "%d-%d" % (os.getpid(), self.count)
        temporary = os.path.join(self.out, name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(temporary, os.path.join(self.out, name + ".json"))
        return "250 2.0.0 Stored"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    options = {}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        def authenticate(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == args.user
                and data.password.decode() == args.password
            )
            # Not handled here: the server answers 535 itself on a failure.
            return AuthResult(success=ok, handled=False)

        options.update(
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=args.tls != "none",
        )

    controller = Controller(
        Sink(args.out),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=context if args.tls == "implicit" else None,
        server_hostname="sink.tabibu.test",
        **options,
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""aiosmtpd (PyPI, 1.4.x) as a loopback SMTP test peer for netsmtp's interop tests.

Started in the background by ``aiosmtpd.sh start`` (its own venv, so the server never shares
code with the client under test). Follows the tested recipe of ../shared/servers/aiosmtpd_server.py.

What it offers (and what aiosmtpd itself does not):

* STARTTLS (``tls_context``) on ``--port``, implicit TLS (``ssl_context``) on ``--smtps-port``;
* AUTH PLAIN and LOGIN (aiosmtpd's own), CRAM-MD5 and SCRAM-SHA-256 (handler methods
  ``auth_CRAM__MD5`` / ``auth_SCRAM__SHA__256``), offered before TLS too;
* SMTPUTF8, 8BITMIME, SIZE (40 MiB), HELP;
* NOT implemented by aiosmtpd: PIPELINING (not advertised), CHUNKING/BDAT, DSN (RET/ENVID/
  NOTIFY/ORCPT refused with 555), ENHANCEDSTATUSCODES.

Delivery: one file per recipient in ``<maildir>/new/``, the exact bytes received (CRLF kept),
after ``Return-Path:``, ``Delivered-To:`` and ``X-Test-*`` headers recording the envelope
(MAIL and RCPT parameters, HELO name, AUTH identity, TLS version).
Test hooks: recipient local part reject* -> 550 5.1.1, tempfail* -> 450 4.2.0.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import os
import signal
import socket
import ssl
import threading
import time
import uuid
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

_counter = itertools.count()
SIZE_LIMIT = 40 * 1024 * 1024  # the interop tests send a 20 MB message


class TestPeerHandler:
    def __init__(self, maildir: str, user: str, password: str) -> None:
        self.maildir, self.user, self.password = maildir, user, password
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, d), exist_ok=True)

    # ---- AUTH -----------------------------------------------------------------------
    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            good = login == self.user and auth_data.password.decode("utf-8", "replace") == self.password
            # handled=False is REQUIRED on failure: the default handled=True means "I already
            # sent the reply", and the client would wait for a 535 forever
            return AuthResult(success=good, handled=False, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def auth_CRAM__MD5(self, server: Any, args: list[str]) -> Any:
        challenge = f"<{uuid.uuid4().hex}@{server.hostname}>".encode()
        resp = await server.challenge_auth(challenge)
        if resp is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.decode("utf-8", "replace").rpartition(" ")
        want = hmac.new(self.password.encode(), challenge, "md5").hexdigest()
        good = user == self.user and hmac.compare_digest(digest, want)
        return AuthResult(success=good, handled=False, auth_data=user)

    async def auth_SCRAM__SHA__256(self, server: Any, args: list[str]) -> Any:
        h = "sha256"
        if len(args) > 1:
            first = base64.b64decode(args[1])
        else:
            first = await server.challenge_auth(b"")
            if first is MISSING:
                return AuthResult(success=False, handled=True)
        cfirst = first.decode()
        cbflag, authz, bare = cfirst.split(",", 2)
        if cbflag.startswith("p="):
            await server.push("535 5.7.8 channel binding not supported")
            return AuthResult(success=False, handled=True)
        attrs = dict(kv.split("=", 1) for kv in bare.split(","))
        user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        salt, iterations = os.urandom(16), 4096
        sfirst = f"r={nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        final = await server.challenge_auth(sfirst)
        if final is MISSING:
            return AuthResult(success=False, handled=True)
        cfinal = final.decode()
        without_proof, _, proof = cfinal.rpartition(",p=")
        fattrs = dict(kv.split("=", 1) for kv in without_proof.split(","))
        salted = hashlib.pbkdf2_hmac(h, self.password.encode(), salt, iterations)
        ckey = hmac.new(salted, b"Client Key", h).digest()
        msg = f"{bare},{sfirst},{without_proof}".encode()
        sig = hmac.new(hashlib.new(h, ckey).digest(), msg, h).digest()
        good = (
            user == self.user
            and fattrs.get("r") == nonce
            and base64.b64decode(fattrs.get("c", "")) == (cbflag + "," + authz + ",").encode()
            and hmac.compare_digest(bytes(x ^ y for x, y in zip(base64.b64decode(proof), sig)), ckey)
        )
        if not good:
            return AuthResult(success=False, handled=False, auth_data=user)
        skey = hmac.new(salted, b"Server Key", h).digest()
        verifier = base64.b64encode(hmac.new(skey, msg, h).digest()).decode()
        last = await server.challenge_auth("v=" + verifier)
        if last is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=True, auth_data=user)

    # ---- envelope hooks ---------------------------------------------------------------
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 Recipient rejected by test rule"
        if local.startswith("tempfail"):
            return "450 4.2.0 Recipient temporarily rejected by test rule"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)  # NB: aiosmtpd keeps ONE flat list
        if not hasattr(envelope, "per_rcpt_options"):
            envelope.per_rcpt_options = {}
        envelope.per_rcpt_options[address] = rcpt_options
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        qid = uuid.uuid4().hex[:12]
        so = server.transport.get_extra_info("ssl_object") if server.transport else None
        tls = so.version() if so else "-"  # session.ssl is only set by STARTTLS, not implicit TLS
        per_rcpt = getattr(envelope, "per_rcpt_options", {})
        for rcpt in envelope.rcpt_tos:
            auth = session.auth_data if session.authenticated else "-"
            hdr = (
                f"Return-Path: <{envelope.mail_from}>\r\n"
                f"Delivered-To: {rcpt}\r\n"
                f"X-Test-Mail-Options: {' '.join(envelope.mail_options)}\r\n"
                f"X-Test-Rcpt-Options: {' '.join(per_rcpt.get(rcpt, []))}\r\n"
                f"X-Test-Session: helo={session.host_name} auth={auth} tls={tls} id={qid}\r\n"
            )
            name = f"{time.time():.6f}.P{os.getpid()}Q{next(_counter)}.{socket.gethostname()}"
            tmp = os.path.join(self.maildir, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(hdr.encode("utf-8") + envelope.original_content)
            os.rename(tmp, os.path.join(self.maildir, "new", name))
        return f"250 2.0.0 OK: queued as {qid}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=13025)
    p.add_argument("--smtps-port", type=int, default=13465)
    p.add_argument("--maildir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", default=os.environ.get("SMTP_TEST_USER", "testuser"))
    p.add_argument("--password", default=os.environ.get("SMTP_TEST_PASS", "testpass"))
    a = p.parse_args()

    handler = TestPeerHandler(a.maildir, a.user, a.password)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    common: dict[str, Any] = dict(
        hostname="127.0.0.1",
        server_hostname="aiosmtpd.test.local",
        ident="aiosmtpd test peer",
        authenticator=handler.authenticator,
        auth_require_tls=False,  # AUTH offered before STARTTLS too, as Postfix and Exim do
        enable_SMTPUTF8=True,
        data_size_limit=SIZE_LIMIT,
    )
    controllers = [
        Controller(handler, port=a.port, tls_context=ctx, **common),
        Controller(handler, port=a.smtps_port, ssl_context=ctx, **common),
    ]
    for c in controllers:
        c.start()
    print(f"SMTP_PORT={a.port}\nSMTPS_PORT={a.smtps_port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    for c in controllers:
        c.stop()


if __name__ == "__main__":
    main()

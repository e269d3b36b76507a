"""A recording SMTP server for the equivalence harness: scripted replies, every client byte kept.

One :class:`Profile` says how the server answers (banner, EHLO lines before and after TLS,
per-verb replies, recipients to refuse, delays); the same profile serves Perl's Net::SMTP and
netsmtp in turn, so both see the same server. It is built on
:class:`tests.helpers.scripted.ScriptedServer`, which records every byte the client sent
(decrypted inside TLS). :meth:`Recorder.transcript` gives those bytes per connection, with a
``<TLS>`` marker where the session switched to TLS: the thing the harness compares.

Replies depend only on the command received (verb, and address for RCPT), never on which
client sent it, so a client that sends an extra command (or one fewer) still gets the same
answers to the commands both clients sent.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import ssl
from dataclasses import dataclass, field

from tests.helpers.scripted import Peer, ScriptedServer

# Everything Net::SMTP can use, so every option is sent (SPEC B §7-10).
FULL_EHLO = (
    "mx.example.org Hello client",
    "PIPELINING",
    "SIZE 10240000",
    "ETRN",
    "STARTTLS",
    "AUTH PLAIN LOGIN CRAM-MD5",
    "8BITMIME",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "CHUNKING",
    "BINARYMIME",
    "XVERP",
    "CHECKPOINT",
    "HELP",
)
CRAM_CHALLENGE = b"<1896.697170952@mx.example.org>"
TLS_MARK = b"<TLS>"
CONNECTION_MARK = b"<CONNECTION>"

Reply = str | tuple[str, ...]  # one line, or the lines of a multi-line reply


@dataclass
class Profile:
    """How the scripted server answers. Replies are full lines without CRLF."""

    banner: Reply = "220 mx.example.org ESMTP ready"
    ehlo: tuple[str, ...] = FULL_EHLO  # the EHLO reply's texts (the first is the greeting line)
    ehlo_tls: tuple[str, ...] | None = None  # after TLS; default: ``ehlo`` without STARTTLS
    # verb -> replies used in turn (then the default answer again), e.g. {"EHLO": ["502 no"]}
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    refuse: tuple[str, ...] = ("bad",)  # RCPT local parts starting with these get 550
    delays: dict[str, float] = field(default_factory=dict)  # verb -> seconds before answering
    auth_ok: bool = True  # the answer to the last AUTH step: 235 or 535
    connections: int = 1

    def ehlo_lines(self, tls: bool) -> tuple[str, ...]:
        if tls:
            return (
                self.ehlo_tls if self.ehlo_tls is not None else tuple(x for x in self.ehlo if x != "STARTTLS")
            )
        return self.ehlo

    def advertises(self, keyword: str, tls: bool) -> bool:
        return any(line.split(" ", 1)[0].upper() == keyword for line in self.ehlo_lines(tls)[1:])


def _lines(code: int, *texts: str) -> tuple[str, ...]:
    return tuple(f"{code}{'-' if i < len(texts) - 1 else ' '}{t}" for i, t in enumerate(texts))


class Responder:
    """Plays one connection: reads commands, answers as the profile says."""

    def __init__(self, profile: Profile, peer: Peer) -> None:
        self.profile = profile
        self.peer = peer
        self.used: dict[str, int] = {}

    def reply(self, reply: Reply) -> None:
        self.peer.reply(*((reply,) if isinstance(reply, str) else reply))

    def scripted(self, verb: str) -> Reply | None:
        queue = self.profile.replies.get(verb, [])
        n = self.used.get(verb, 0)
        if n < len(queue):
            self.used[verb] = n + 1
            return queue[n]
        return None

    def run(self) -> None:
        # the client may hang up early (after a timeout, say): its bytes are recorded already
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            self.serve()

    def serve(self) -> None:
        self.reply(self.profile.banner)
        while True:
            line = self.peer.readline()
            if not line:
                return
            if not line.endswith(b"\n"):  # a partial line, then EOF
                return
            words = line.rstrip(b"\r\n").split(b" ")
            verb = words[0].split(b":", 1)[0].upper().decode("ascii", "replace")
            if verb in self.profile.delays:
                self.peer.sleep(self.profile.delays[verb])
            scripted = self.scripted(verb)
            if scripted is not None:
                self.reply(scripted)
                if verb == "DATA" and str(scripted).startswith("354"):
                    self.peer.read_data()
                    self.reply("250 2.0.0 Ok: queued")
                continue
            self.answer(verb, words, line)

    def answer(self, verb: str, words: list[bytes], line: bytes) -> None:
        tls = self.peer.tls
        if verb == "EHLO":
            self.reply(_lines(250, *self.profile.ehlo_lines(tls)))
        elif verb == "HELO":
            self.reply("250 mx.example.org")
        elif verb in ("MAIL", "SEND", "SOML", "SAML"):
            self.reply("250 2.1.0 Ok")
        elif verb == "RCPT":
            address = line.split(b":", 1)[1].strip().lstrip(b"<")
            if address.startswith(tuple(p.encode() for p in self.profile.refuse)):
                self.reply("550 5.1.1 <recipient> refused")
            else:
                self.reply("250 2.1.5 Ok")
        elif verb == "DATA":
            self.reply("354 End data with <CR><LF>.<CR><LF>")
            self.peer.read_data()
            self.reply("250 2.0.0 Ok: queued as 4711")
        elif verb == "BDAT":
            self.peer.read(int(words[1]))
            last = len(words) > 2 and words[2].upper() == b"LAST"
            self.reply("250 2.0.0 Ok: queued as 4712" if last else "250 2.0.0 Ok: chunk received")
        elif verb == "STARTTLS":
            if not self.profile.advertises("STARTTLS", tls):
                self.reply("502 5.5.1 STARTTLS not available")
                return
            self.reply("220 2.0.0 Ready to start TLS")
            self.peer.starttls()
        elif verb == "AUTH":
            self.auth(words)
        elif verb in ("RSET", "NOOP", "ETRN"):
            self.reply("250 2.0.0 Ok")
        elif verb == "VRFY":
            self.reply("252 2.0.0 Cannot VRFY user, but will accept message")
        elif verb == "EXPN":
            self.reply(_lines(250, "first <first@example.org>", "second <second@example.org>"))
        elif verb == "HELP":
            self.reply(_lines(214, "2.0.0 Commands: EHLO MAIL RCPT DATA", "2.0.0 End of HELP info"))
        elif verb == "QUIT":
            self.reply("221 2.0.0 Bye")
        else:
            self.reply("500 5.5.1 Command unrecognized")

    def auth(self, words: list[bytes]) -> None:
        mechanism = words[1].upper().decode() if len(words) > 1 else ""
        initial = len(words) > 2
        final = "235 2.7.0 Authentication successful" if self.profile.auth_ok else "535 5.7.8 Bad credentials"
        if mechanism == "PLAIN":
            if not initial:
                self.reply("334 ")
                self.peer.readline()
        elif mechanism == "LOGIN":
            if not initial:
                self.reply("334 VXNlcm5hbWU6")
                self.peer.readline()
            self.reply("334 UGFzc3dvcmQ6")
            self.peer.readline()
        elif mechanism == "CRAM-MD5":
            self.reply("334 " + base64.b64encode(CRAM_CHALLENGE).decode())
            self.peer.readline()
        else:
            self.reply("504 5.5.4 Unrecognized authentication type")
            return
        self.reply(final)


class Recorder:
    """A scripted server playing ``profile`` on each connection, recording the client's bytes."""

    def __init__(self, profile: Profile, tls_context: ssl.SSLContext, implicit_tls: bool = False) -> None:
        self.profile = profile
        self._starts: list[int] = []
        self.server = ScriptedServer(
            self._script,
            connections=profile.connections,
            tls_context=tls_context,
            implicit_tls=implicit_tls,
            io_timeout=15.0,
        )
        self.host = self.server.host
        self.port = self.server.port

    def _script(self, peer: Peer) -> None:
        self._starts.append(len(self.server.segments))
        Responder(self.profile, peer).run()

    def finish(self, wait: float = 15.0) -> None:
        """Wait until the client is done (it closed every connection)."""
        self.server.join(wait)

    def close(self) -> None:
        self.server.close()

    def transcript(self) -> bytes:
        """Every byte the client sent, per connection (``<CONNECTION>`` before each), with
        ``<TLS>`` where the session switched to TLS."""
        segments = self.server.segments
        out = b""
        bounds = [*self._starts, len(segments)]
        for start, end in itertools.pairwise(bounds):
            out += CONNECTION_MARK
            tls = False
            for is_tls, data in segments[start:end]:
                if is_tls and not tls:
                    out += TLS_MARK
                    tls = True
                out += data
        return out

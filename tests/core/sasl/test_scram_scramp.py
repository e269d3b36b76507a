"""SCRAM cross-checked against an independent server implementation (the scramp package)."""

from __future__ import annotations

import contextlib

import pytest

from netsmtp._core.sasl import ChannelBinding, SASLError, ScramMechanism

scramp = pytest.importorskip("scramp")
from scramp.utils import ScramException  # type: ignore[import-untyped]  # noqa: E402

CB = ChannelBinding("tls-server-end-point", b"made-up certificate hash \x00\xff")


def run_against_scramp(
    mechanism: ScramMechanism,
    server_name: str,
    stored_password: str,
    *,
    server_cb: tuple[str, bytes] | None = None,
    iterations: int = 4096,
) -> str:
    """One full exchange; returns the server-final message our mechanism checked."""
    server_mech = scramp.ScramMechanism(server_name)
    auth_info = server_mech.make_auth_info(stored_password, iteration_count=iterations)

    def auth_fn(_username: str) -> tuple[bytes, bytes, bytes, int]:
        return auth_info  # type: ignore[no-any-return]

    server = server_mech.make_server(auth_fn, channel_binding=server_cb)
    server.set_client_first(mechanism.initial_response().decode())
    client_final = mechanism.respond(server.get_server_first().encode())
    with contextlib.suppress(ScramException):  # the server-final then carries e=...
        server.set_client_final(client_final.decode())
    server_final: str = server.get_server_final()
    mechanism.respond(server_final.encode())
    mechanism.finish()
    return server_final


@pytest.mark.parametrize("name", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_good_password(name: str) -> None:
    final = run_against_scramp(ScramMechanism(name, "user", "correct horse"), name, "correct horse")
    assert final.startswith("v=")


@pytest.mark.parametrize("name", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_bad_password(name: str) -> None:
    with pytest.raises(SASLError, match="invalid-proof"):
        run_against_scramp(ScramMechanism(name, "user", "wrong"), name, "correct horse")


@pytest.mark.parametrize("name", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_high_iteration_count(name: str) -> None:
    run_against_scramp(ScramMechanism(name, "user", "pw"), name, "pw", iterations=15000)


def test_saslprepped_password_agrees() -> None:
    # Both sides SASLprep: NBSP -> space, soft hyphen -> nothing, Roman numeral -> "IX".
    mech = ScramMechanism("SCRAM-SHA-256", "user", "p\u00e4ss\u00a0w\u00adord \u2168")
    run_against_scramp(mech, "SCRAM-SHA-256", "päss word IX")


def test_odd_username_is_escaped() -> None:
    run_against_scramp(ScramMechanism("SCRAM-SHA-256", "a,b=c", "pw"), "SCRAM-SHA-256", "pw")


@pytest.mark.parametrize("base", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_plus_good_and_bad_password(base: str) -> None:
    name = base + "-PLUS"
    server_cb = (CB.kind, CB.data)
    final = run_against_scramp(
        ScramMechanism(name, "user", "pw", channel_binding=CB), name, "pw", server_cb=server_cb
    )
    assert final.startswith("v=")
    with pytest.raises(SASLError, match="invalid-proof"):
        run_against_scramp(
            ScramMechanism(name, "user", "nope", channel_binding=CB), name, "pw", server_cb=server_cb
        )


def test_plus_with_different_binding_fails() -> None:
    # A man in the middle terminates TLS: the server sees another certificate.
    other = ChannelBinding("tls-server-end-point", b"the attacker's certificate hash")
    with pytest.raises(SASLError):
        run_against_scramp(
            ScramMechanism("SCRAM-SHA-256-PLUS", "user", "pw", channel_binding=other),
            "SCRAM-SHA-256-PLUS",
            "pw",
            server_cb=(CB.kind, CB.data),
        )


def test_y_flag_detects_a_stripped_plus() -> None:
    # We could bind and the server only showed SCRAM-SHA-256 (a MITM removed -PLUS), but
    # the real server supports binding: RFC 5802 §6 makes it refuse the "y" flag.
    mech = ScramMechanism("SCRAM-SHA-256", "user", "pw", channel_binding=CB)
    server_mech = scramp.ScramMechanism("SCRAM-SHA-256")
    auth_info = server_mech.make_auth_info("pw")
    server = server_mech.make_server(lambda _user: auth_info, channel_binding=(CB.kind, CB.data))
    with pytest.raises(ScramException):
        server.set_client_first(mech.initial_response().decode())


def test_y_flag_accepted_by_a_server_without_binding() -> None:
    mech = ScramMechanism("SCRAM-SHA-256", "user", "pw", channel_binding=CB)
    run_against_scramp(mech, "SCRAM-SHA-256", "pw")

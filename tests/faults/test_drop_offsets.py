"""The server drops the connection after every byte offset of every reply (issue 6, point 3).

For each transaction shape (DATA, pipelined DATA, pipelined inline BDAT) and each client,
the server sends the first ``k`` bytes of one reply and then half-closes (FIN), for every
``k`` from 0 to the reply's length minus one, and for every reply of the transaction
(greeting, EHLO, STARTTLS, the TLS handshake, EHLO, AUTH, MAIL, three RCPT, DATA, the
final reply, QUIT). A reset (RST) is tried at the first, middle and last offset of each
reply. What must hold, every time:

* the message is reported as sent only when the final 2xx was read (a fault at QUIT);
* a fault after the whole message was written raises :class:`netsmtp.DeliveryUnknown`,
  and no fault before it does;
* a dropped connection is noticed at once (no timeout);
* the connection ends closed: the client releases its socket, writes nothing after the
  fault (checked by the server after its FIN), and a later call raises ConnectionLost.
"""

from __future__ import annotations

import ssl

import pytest

from tests.faults.conftest import Loops
from tests.faults.transaction import MODES, Fault, problems, run_plans, steps

TIMEOUT = 3.0  # never reached: a drop must be noticed at once


def drop_faults(mode: str) -> list[Fault]:
    faults = []
    for step in steps(mode):
        size = max(len(step.reply), 1)  # the handshake: one fault, instead of it
        faults += [Fault(mode, step.name, "fin", k) for k in range(size)]
        faults += [Fault(mode, step.name, "rst", k) for k in sorted({0, size // 2, size - 1})]
    return faults


def test_every_offset_is_covered() -> None:
    for mode in MODES:
        faults = drop_faults(mode)
        replies = steps(mode)
        fins = [f for f in faults if f.action == "fin"]
        # one FIN per reply byte (the k-th byte is never sent), plus the handshake
        assert len(fins) == sum(len(s.reply) for s in replies) + 1
        assert {f.step for f in faults} == {s.name for s in replies}


@pytest.mark.parametrize("mode", MODES)
def test_drop_after_every_offset(
    kind: str,
    mode: str,
    fault_loops: Loops,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    faults = drop_faults(mode)
    outcomes, server_errors = run_plans(
        kind, fault_loops.get(kind), faults, server_context, client_context, timeout=TIMEOUT, workers=4
    )
    bad = [line for out in outcomes for line in problems(out, TIMEOUT)]
    bad += [f"server: {exc!r}" for exc in server_errors]
    assert not bad, f"{len(bad)} problems in {len(faults)} faults:\n" + "\n".join(bad[:40])

"""The server stalls at every step of the transaction (issue 6, point 3).

For each transaction shape and each client, the server goes silent at every reply: before
its first byte, half-way through it, and one byte short of its end (``250 ok\\r`` without
the LF), and instead of the TLS handshake. The client has a 0.2 s timeout. What must hold,
every time:

* the call that waits gives up with a timeout, within 3 x timeout + 0.5 s (a hang check,
  not a benchmark), and no call waits longer;
* a stall after the whole message was written is :class:`netsmtp.DeliveryUnknown` (its
  cause the timeout), and no stall before it is;
* the message is reported as sent only when the final 2xx was read (a stall at QUIT);
* the connection ends closed: the server sees the client close without writing anything
  more (no QUIT into a stalled session), and a later call raises ConnectionLost at once.

Many servers run at once (each takes its stalls in turn), so the ~0.2 s waits overlap.
"""

from __future__ import annotations

import ssl

import pytest

from tests.faults.conftest import Loops
from tests.faults.transaction import MODES, Fault, problems, run_plans, steps

TIMEOUT = 0.2
WORKERS = 8


def stall_faults(mode: str) -> list[Fault]:
    faults = []
    for step in steps(mode):
        if not step.reply:  # the handshake: the ClientHello is never answered
            faults.append(Fault(mode, step.name, "stall", 0))
            continue
        size = len(step.reply)
        faults += [Fault(mode, step.name, "stall", k) for k in sorted({0, size // 2, size - 1})]
    return faults


def test_every_step_is_covered() -> None:
    for mode in MODES:
        covered = {f.step for f in stall_faults(mode)}
        assert covered == {s.name for s in steps(mode)}
        assert len(stall_faults(mode)) == 3 * len(steps(mode)) - 2


@pytest.mark.parametrize("mode", MODES)
def test_stall_at_every_step(
    kind: str,
    mode: str,
    fault_loops: Loops,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    faults = stall_faults(mode)
    outcomes, server_errors = run_plans(
        kind, fault_loops.get(kind), faults, server_context, client_context, timeout=TIMEOUT, workers=WORKERS
    )
    bad = [line for out in outcomes for line in problems(out, TIMEOUT)]
    bad += [f"server: {exc!r}" for exc in server_errors]
    assert not bad, f"{len(bad)} problems in {len(faults)} stalls:\n" + "\n".join(bad[:40])

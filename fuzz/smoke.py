"""A short fuzzing burst of every target, for CI (``make fuzz-smoke``).

Each target runs for ``--seconds`` (default 10) on a temporary copy of its seed corpus
(libFuzzer adds what it finds to the corpus directory; the committed one stays as it
is), with atheris when it is installed and the fallback loop otherwise. Exit status 1
if any target failed; its failing input is kept in ``fuzz/artifacts/``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("reply_parser", "data_encoder")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per target (default 10)")
    args = parser.parse_args()
    if importlib.util.find_spec("atheris") is None:
        engine = "fallback random loop (atheris is not installed)"
    else:
        engine = "atheris"
    failed = []
    for name in TARGETS:
        with tempfile.TemporaryDirectory() as scratch:
            corpus = Path(scratch) / "corpus"
            shutil.copytree(HERE / "corpus" / name, corpus)
            artifacts = HERE / "artifacts"
            artifacts.mkdir(exist_ok=True)
            command = [
                sys.executable,
                str(HERE / f"{name}.py"),
                f"-max_total_time={args.seconds}",
                f"-dict={HERE / 'smtp.dict'}",
                f"-artifact_prefix={artifacts}/{name}-",
                "-print_final_stats=1",
                str(corpus),
            ]
            print(f"== fuzz {name} for {args.seconds} s with {engine}", flush=True)
            done = subprocess.run(  # noqa: S603 - our own script, by absolute path
                command, capture_output=True, text=True, timeout=args.seconds + 120, check=False
            )
            output = (done.stdout + done.stderr).strip().splitlines()
            summary = [
                line for line in output if line.startswith(("Done ", "== fallback", "stat::number_of_exec"))
            ]
            print("\n".join(summary or output[-3:]))
            if done.returncode != 0:
                print("\n".join(output[-40:]), file=sys.stderr)
                failed.append(name)
        if not any((HERE / "artifacts").iterdir()):
            (HERE / "artifacts").rmdir()
    if failed:
        print(f"== fuzz-smoke FAILED: {', '.join(failed)} (inputs in fuzz/artifacts/)", file=sys.stderr)
        return 1
    print("== fuzz-smoke: no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())

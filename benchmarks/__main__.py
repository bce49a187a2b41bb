"""`make bench`: every benchmark, each against its baseline in the same run."""

from __future__ import annotations

import importlib.util
import sys

from benchmarks import engine_bench, gate_bench, rehearsal_bench, watchdog_bench, workflow_bench


def main() -> int:
    code = engine_bench.main()
    code = code or gate_bench.main()
    code = code or workflow_bench.main()
    code = code or watchdog_bench.main()
    code = code or rehearsal_bench.main()
    if importlib.util.find_spec("benchmarks.lambda_bench") is not None:
        from benchmarks import lambda_bench

        code = code or lambda_bench.main()
    return code


if __name__ == "__main__":
    sys.exit(main())

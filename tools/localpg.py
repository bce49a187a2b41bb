"""A throwaway PostgreSQL cluster for the demo, the tests and the benchmarks.

Uses the machine's PostgreSQL server binaries when they exist (they have TLS), and otherwise the ones the
`pgserver` wheel ships (no TLS), so `make demo` needs no server installed. PostgreSQL refuses to run as
root, so as root the cluster runs as an unprivileged user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = (
    "local-Sup3r;pass%word"  # awkward characters on purpose: proves quoting everywhere
)


def find_bindir(require_tls: bool = False) -> Path:
    """The first PostgreSQL bin directory that has a server (and TLS, when asked)."""
    candidates: list[Path] = []
    if env := os.environ.get("PG_BINDIR"):
        candidates.append(Path(env))
    for pg_config in (shutil.which("pg_config"),):
        if pg_config:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=False
            )
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not require_tls:
        try:
            import pgserver

            candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
        except ImportError:
            pass
    for bindir in candidates:
        has_server = (bindir / "postgres").exists() and (bindir / "initdb").exists()
        if has_server and (not require_tls or _has_ssl(bindir)):
            return bindir
    wanted = (
        "PostgreSQL server binaries built with OpenSSL"
        if require_tls
        else "PostgreSQL server binaries"
    )
    raise RuntimeError(
        f"No {wanted} found (looked in {', '.join(map(str, candidates)) or 'nothing'}). "
        "Install the 'postgresql' Debian package or set PG_BINDIR."
    )


def _has_ssl(bindir: Path) -> bool:
    out = subprocess.run(
        ["ldd", str(bindir / "postgres")], capture_output=True, text=True, check=False
    )
    return "libssl" in out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path  # a CA that did not sign the server: for "wrong CA" checks


def make_tls_files(directory: Path, server_names: tuple[str, ...] = ("localhost",)) -> TlsFiles:
    """A CA, a server certificate for `server_names` signed by it, and an unrelated CA."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    for name in ("ca", "other-ca"):
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=alembic-hook test {name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={server_names[0]}",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    san = ",".join(f"DNS:{n}" for n in server_names)
    (directory / "server.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.crt",
        "-extfile",
        "server.ext",
    )
    os.chmod(directory / "server.key", 0o600)
    return TlsFiles(
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
        directory / "other-ca.crt",
    )


@dataclass
class LocalPostgres:
    """One cluster on 127.0.0.1 with password (SCRAM) authentication."""

    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)
    tls: TlsFiles | None = None
    host: str = "127.0.0.1"
    run_as: str | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(
        self,
        database: str = "postgres",
        user: str = SUPERUSER,
        password: str = SUPERUSER_PASSWORD,
        host: str | None = None,
        **query: str,
    ) -> str:
        q = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host or self.host}:{self.port}"
            f"/{database}" + (f"?{q}" if q else "")
        )

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def start(self) -> LocalPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.run_as = self.run_as or _unprivileged_user()
            os.chmod(self.root, 0o755)  # noqa: S103 - the server's own user must reach its data
            shutil.chown(self.root, self.run_as)
        pwfile = self.root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.run_as:
            shutil.chown(pwfile, self.run_as)
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        conf = [
            f"port = {self.port}",
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.datadir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 200",
        ]
        if self.tls:
            for attr in ("server_cert", "server_key", "ca_cert"):
                src = getattr(self.tls, attr)
                dst = self.datadir / src.name
                shutil.copy(src, dst)
                os.chmod(dst, 0o600)
                if self.run_as:
                    shutil.chown(dst, self.run_as)
            conf += [
                "ssl = on",
                f"ssl_cert_file = '{self.tls.server_cert.name}'",
                f"ssl_key_file = '{self.tls.server_key.name}'",
            ]
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write("\n".join(conf) + "\n")
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            subprocess.run(
                self._cmd(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(
            self.root.parent if self.root.name == "cluster" else self.root, ignore_errors=True
        )

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _unprivileged_user() -> str:
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "pgserver"], check=True, capture_output=True
    )
    return "pgserver"


def throwaway(tls: bool = False) -> LocalPostgres:
    """A cluster under a fresh temporary directory; call .start() (or use as a context manager)."""
    root = Path(tempfile.mkdtemp(prefix="alembic-hook-pg-"))
    os.chmod(root, 0o755)  # noqa: S103 - the unprivileged server user must traverse it
    files = make_tls_files(root / "tls") if tls else None
    return LocalPostgres(bindir=find_bindir(require_tls=tls), root=root / "cluster", tls=files)

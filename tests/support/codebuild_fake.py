"""CodeBuild, played locally (``AWS_ENDPOINT_URL_CODEBUILD``): StartBuild runs the project's buildspec, taken from
the synthesized template, with bash in a directory laid out like the function's asset (the long lane's source),
with the project's environment and the build's overrides; BatchGetBuilds reports it.

What CodeBuild itself adds and this does not: the image (here the test's Python stands in for the image's
pyenv Python of the buildspec's runtime-versions; its boto3 is this venv's), the VPC placement, the S3 source
download and the IAM role.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.http_server import FakeHttpServer, Request, Response

PHASES = ("install", "pre_build", "build", "post_build")
BUILD_TIMEOUT = 300.0


@dataclass
class Project:
    buildspec: dict[str, Any]
    environment: dict[str, str]
    source_dir: Path


@dataclass
class Build:
    id: str
    project: str
    overrides: dict[str, str]
    status: str = "IN_PROGRESS"
    output: str = ""
    done: threading.Event = field(default_factory=threading.Event)


class FakeCodeBuild:
    def __init__(self, extra_env: Mapping[str, str] | None = None) -> None:
        self.projects: dict[str, Project] = {}
        self.builds: dict[str, Build] = {}
        self.extra_env = dict(extra_env or {})
        self.server = FakeHttpServer({"POST": self._call})
        # `python` on the build's PATH: this venv's, standing in for the image's runtime-versions Python
        shim = Path(tempfile.mkdtemp(prefix="codebuild-shim-"))
        self._shim = shim
        (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        (shim / "python").chmod(0o755)
        self.path = f"{shim}{os.pathsep}/usr/bin{os.pathsep}/bin"

    @property
    def url(self) -> str:
        return self.server.url

    def add_project(self, name: str, project: Project) -> None:
        self.projects[name] = project

    def _call(self, request: Request) -> Response:
        action = str(request.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
        body = json.loads(request.body or b"{}")
        if action == "StartBuild":
            return self._start(body)
        if action == "BatchGetBuilds":
            builds = [self.builds[i] for i in body.get("ids", []) if i in self.builds]
            return Response.json(
                200,
                {
                    "builds": [
                        {"id": b.id, "buildStatus": b.status, "projectName": b.project}
                        for b in builds
                    ],
                    "buildsNotFound": [],
                },
                {"Content-Type": "application/x-amz-json-1.1"},
            )
        return Response.json(
            400, {"__type": "InvalidInputException", "message": f"unknown action {action}"}
        )

    def _start(self, body: dict[str, Any]) -> Response:
        name = body["projectName"]
        if name not in self.projects:
            return Response.json(
                400, {"__type": "ResourceNotFoundException", "message": f"no project {name}"}
            )
        overrides = {
            v["name"]: v.get("value", "") for v in body.get("environmentVariablesOverride", [])
        }
        build = Build(f"{name}:{uuid.uuid4()}", name, overrides)
        self.builds[build.id] = build
        threading.Thread(target=self._run, args=(build,), daemon=True).start()
        return Response.json(
            200, {"build": {"id": build.id, "buildStatus": "IN_PROGRESS", "projectName": name}}
        )

    def _run(self, build: Build) -> None:
        project = self.projects[build.project]
        phases = project.buildspec.get("phases", {})
        commands = [c for phase in PHASES for c in (phases.get(phase) or {}).get("commands", [])]
        # buildspec 0.2: one shell; a failing command fails the build
        script = "set -e\n" + "\n".join(commands)
        env = {
            "PATH": self.path,
            "LANG": "C.UTF-8",
            "CODEBUILD_SRC_DIR": str(project.source_dir),
            **project.environment,
            **self.extra_env,
            **build.overrides,
        }
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=project.source_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
            build.output = done.stdout + done.stderr
            build.status = "SUCCEEDED" if done.returncode == 0 else "FAILED"
        except subprocess.TimeoutExpired as exc:
            build.output = f"timed out: {exc}"
            build.status = "TIMED_OUT"
        build.done.set()

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self._shim, ignore_errors=True)

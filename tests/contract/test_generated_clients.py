"""Real generators accept the OpenAPI document, and what they make builds and runs.

TypeScript: openapi-typescript (pinned in tests/web/package-lock.json) turns the live
/openapi.json into `api.d.ts`, and `tsc --noEmit` type-checks a small signing client written
against it (tests/contract/signing_client.ts). Python: datamodel-code-generator (a pinned dev
dependency) turns the same document into models, which a thin client imports and uses to
list facts, sign and read a 422 from the app.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.petitions.helpers import SLUG
from tests.web.npm import npm_ci

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent


def write_document(client: TestClient, directory: Path) -> Path:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = directory / "openapi.json"
    document.write_text(json.dumps(response.json()), encoding="utf-8")
    return document


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def generate_types(client: TestClient, directory: Path) -> Path:
    """api.ts from the live document, generated as the API description tells frontends to."""
    node_modules = npm_ci()
    document = write_document(client, directory)
    # --default-non-nullable false: request fields with defaults stay optional. Answers need
    # no such help: their schemas (separate from the request ones) list every field that is
    # always present as required.
    command = [str(node_modules / ".bin" / "openapi-typescript"), str(document), "-o", "api.ts"]
    run([*command, "--default-non-nullable", "false"], directory)
    return node_modules


def test_typescript_types_generate_and_a_signing_client_type_checks(
    client: TestClient, tmp_path: Path
) -> None:
    node_modules = generate_types(client, tmp_path)
    generated = (tmp_path / "api.ts").read_text(encoding="utf-8")
    assert "signPetition" in generated and "FactPage" in generated
    assert "Page_" not in generated and "Status1" not in generated
    shutil.copy(HERE / "signing_client.ts", tmp_path / "signing_client.ts")
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "target": "ES2022",
                    "module": "ES2022",
                    "moduleResolution": "bundler",
                    "lib": ["ES2022", "DOM"],
                    "skipLibCheck": True,
                },
                "files": ["signing_client.ts"],
            }
        ),
        encoding="utf-8",
    )
    run([str(node_modules / ".bin" / "tsc"), "-p", "tsconfig.json"], tmp_path)


def test_typescript_check_catches_a_client_that_breaks_the_contract(
    client: TestClient, tmp_path: Path
) -> None:
    # The type check above proves something only if a wrong client fails it.
    node_modules = generate_types(client, tmp_path)
    (tmp_path / "wrong.ts").write_text(
        'import type { components } from "./api";\n'
        'export const body: components["schemas"]["SignatureCreate"] = '
        '{ first_name: "Ana", email: "ana@example.org", postal_code: "32801" };\n',
        encoding="utf-8",
    )
    tsc = str(node_modules / ".bin" / "tsc")
    result = subprocess.run(
        [tsc, "--noEmit", "--strict", "--skipLibCheck", "wrong.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "last_name" in result.stdout


def generate_models(client: TestClient, directory: Path) -> ModuleType:
    document = write_document(client, directory)
    output = directory / "advocacy_models.py"
    run(
        [
            str(VENV_BIN / "datamodel-codegen"),
            "--input",
            str(document),
            "--input-file-type",
            "openapi",
            "--output-model-type",
            "pydantic_v2.BaseModel",
            "--output",
            str(output),
            "--use-annotated",
            "--disable-timestamp",
        ],
        directory,
    )
    spec = importlib.util.spec_from_file_location("advocacy_models", output)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["advocacy_models"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["advocacy_models"]
    return module


class GeneratedClient:
    """What a Python user writes around the generated models: requests in, models out."""

    def __init__(self, http: httpx.Client, models: ModuleType) -> None:
        self.http = http
        self.models = models

    def list_facts(self, **params: Any) -> Any:
        response = self.http.get("/v1/facts", params=params)
        response.raise_for_status()
        return self.models.FactPage.model_validate(response.json())

    def sign(self, slug: str, signature: Any, *, language: str = "en") -> Any:
        response = self.http.post(
            f"/v1/petitions/{slug}/signatures",
            content=signature.model_dump_json(exclude_unset=True),
            headers={
                "Content-Type": "application/json",
                "Accept-Language": language,
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        if response.status_code == 202:
            return self.models.SignatureAccepted.model_validate(response.json())
        assert response.headers["content-type"] == "application/problem+json"
        return self.models.Problem.model_validate(response.json())


def test_python_models_generate_and_a_client_runs_against_the_app(
    client: TestClient, tmp_path: Path
) -> None:
    models = generate_models(client, tmp_path)
    api = GeneratedClient(client, models)

    facts = api.list_facts(limit=3)
    assert len(facts.items) == 3
    assert facts.items[0].citations[0].quote
    assert facts.next_cursor

    accepted = api.sign(
        SLUG,
        models.SignatureCreate(
            first_name="Ana", last_name="García", email="ana@example.org", postal_code="32801"
        ),
    )
    assert isinstance(accepted, models.SignatureAccepted)
    assert getattr(accepted.status, "value", accepted.status) == "pending_confirmation"

    # A body the generated model accepts but the server refuses (a ZIP not in use).
    refused = api.sign(
        SLUG,
        models.SignatureCreate(
            first_name="Ana", last_name="García", email="ana@example.org", postal_code="00000"
        ),
        language="es",
    )
    assert isinstance(refused, models.Problem)
    assert refused.status == 422
    assert refused.type == "urn:advocacy:problem:validation-error"
    errors = refused.errors if not hasattr(refused.errors, "root") else refused.errors.root
    assert [(e.field, e.code) for e in errors] == [("postal_code", "unknown_postal_code")]
    assert errors[0].message == "No es un código postal de EE. UU. en uso."

"""compose.yaml matches the README and the settings: its services, commands and variables."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main
import yaml

from api.cli import app as cli
from api.config import Settings

REPO = Path(__file__).resolve().parents[2]
ADVOCACY_SERVICES = {"migrate", "api", "worker"}


def _compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def _readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _commands(service: dict) -> list[list[str]]:
    command = service["command"]
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [command]


def test_compose_has_the_services_the_readme_names():
    services = _compose()["services"]
    assert set(services) == ADVOCACY_SERVICES | {"postgres", "redis", "mailpit"}
    operating = _readme_section("Operating it")
    for name in services:
        assert f"`{name}`" in operating, f"README 'Operating it' does not name service {name}"


def test_compose_runs_real_commands_the_readme_documents():
    services = _compose()["services"]
    known = {
        info.name or (info.callback.__name__ if info.callback else "")
        for info in cli.registered_commands
    }
    running_it = _readme_section("Running it")
    seen = []
    for name in ADVOCACY_SERVICES:
        for command in _commands(services[name]):
            assert command[0] == "advocacy", command
            assert command[1] in known, f"{name}: advocacy has no command {command[1]}"
            assert f"`advocacy {command[1]}" in running_it
            seen.append(command[1])
            # Every option given is one the command has.
            click_command = typer.main.get_command(cli).commands[command[1]]  # type: ignore[attr-defined]
            options = {opt for p in click_command.params for opt in p.opts}
            assert {arg for arg in command[2:] if arg.startswith("--")} <= options
    assert sorted(seen) == ["migrate", "seed", "serve", "worker"]


def test_every_variable_compose_sets_is_a_documented_setting():
    services = _compose()["services"]
    fields = {name.upper() for name in Settings.model_fields}
    configuration = _readme_section("Configuration")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", configuration, re.M))
    assert fields == documented, "README's configuration table and Settings differ"
    for name in ADVOCACY_SERVICES:
        variables = set(services[name]["environment"])
        assert variables <= fields, f"{name}: not settings: {variables - fields}"
    # A separate worker service means the API runs none in-process.
    assert services["api"]["environment"]["MAIL_WORKER_IN_PROCESS"] == "false"
    assert "METRICS_TOKEN" in services["api"]["environment"]

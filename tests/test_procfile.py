"""The Procfile is the one definition of each process: docker-compose runs its lines through scripts/proc."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROC = ROOT / "scripts" / "proc"
# camtrack services that are one-off jobs, not Procfile processes.
ONE_OFF = {"migrate"}
FAKE_NPROC = "3"


def procfile() -> dict[str, str]:
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            lines[name.strip()] = command.strip()
    return lines


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def camtrack_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if s.get("image", "").startswith("camtrack")}


def container_env() -> dict[str, str]:
    """The camtrack services' environment as compose resolves it with nothing set on the host."""
    env = {}
    for key, value in compose()["x-camtrack"]["environment"].items():
        value = str(value)
        default = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
        if default:
            env[key] = default[1]
        elif "$" not in value:
            env[key] = value
    return env


def expand(command: str, env: dict[str, str]) -> list[str]:
    """The argv a POSIX shell makes of a Procfile line: ${VAR:-default} and $(nproc), then words."""

    def nproc(text: str) -> str:
        return text.replace("$(nproc)", FAKE_NPROC)

    def var(match: re.Match) -> str:
        return env.get(match[1]) or nproc(match[2])

    return shlex.split(nproc(re.sub(r"\$\{(\w+):-([^}]*)\}", var, command)))


def run_proc(name: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run scripts/proc NAME from another directory, with celery, gunicorn, python and nproc faked on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in ("celery", "gunicorn", "python"):
        fake = bin_dir / program
        fake.write_text('#!/bin/sh\nprintf "%s\\0" "$(pwd)" "$0" "$@"\n')
        fake.chmod(0o755)
    (bin_dir / "nproc").write_text(f"#!/bin/sh\necho {FAKE_NPROC}\n")
    (bin_dir / "nproc").chmod(0o755)
    # Only the variables given: the Procfile's defaults must come from the line itself.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAMTRACK_", "FLOWER_"))}
    clean["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["sh", str(PROC), name], cwd=tmp_path, env={**clean, **env}, capture_output=True, timeout=30)


def test_every_camtrack_service_runs_a_procfile_line_through_scripts_proc():
    processes = procfile()
    services = camtrack_services()
    assert set(services) - ONE_OFF, "no camtrack services found in docker-compose.yml"
    run = {}
    for name, service in services.items():
        if name in ONE_OFF:
            continue
        command = service.get("command")
        assert isinstance(command, list) and len(command) == 2 and command[0] == "scripts/proc", (name, command)
        assert command[1] in processes, f"service {name} runs {command[1]!r}, which the Procfile lacks"
        run[command[1]] = name
    # And every process of the Procfile has its service.
    assert set(run) == set(processes), set(processes) - set(run)


def test_scripts_proc_is_executable_for_compose_to_exec_it():
    # compose's command runs it directly (relative to the image's WORKDIR, where the tree is copied).
    assert os.access(PROC, os.X_OK)
    assert PROC.read_text().startswith("#!/bin/sh\n")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^WORKDIR /app$", dockerfile, re.M)
    assert re.search(r"^COPY \. \.$", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not {"scripts", "scripts/", "Procfile"} & set(ignored)


def test_unknown_process_fails_with_the_names_it_has(tmp_path):
    result = run_proc("nosuchname", {}, tmp_path)
    assert result.returncode != 0
    assert result.stdout == b""
    err = result.stderr.decode()
    assert "no process 'nosuchname'" in err
    for name in procfile():
        assert name in err


def test_no_argument_is_a_usage_error(tmp_path):
    result = subprocess.run(["sh", str(PROC)], cwd=tmp_path, capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"usage" in result.stderr


@pytest.mark.parametrize("name", sorted(procfile()))
def test_runs_the_procfile_line_with_its_defaults_from_the_repository_root(name, tmp_path):
    result = run_proc(name, {}, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    cwd, program, *args = result.stdout.decode().split("\0")[:-1]
    expected = expand(procfile()[name], {})
    assert Path(cwd) == ROOT
    assert Path(program).name == expected[0]
    assert args == expected[1:]


@pytest.mark.parametrize("name", sorted(procfile()))
def test_runs_the_procfile_line_with_the_containers_settings(name, tmp_path):
    env = container_env()
    result = run_proc(name, env, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    _, program, *args = result.stdout.decode().split("\0")[:-1]
    expected = expand(procfile()[name], env)
    assert [Path(program).name, *args] == expected


def test_container_settings_reach_the_processes(tmp_path):
    env = container_env()

    def argv(name: str) -> str:
        return " ".join(run_proc(name, env, tmp_path).stdout.decode().split("\0")[2:])

    assert "--bind 0.0.0.0:8000" in argv("web")
    assert "--schedule /data/celerybeat-schedule" in argv("beat")
    assert "--address=0.0.0.0" in argv("flower")
    assert f"--concurrency {env['CAMTRACK_CPU_CONCURRENCY']} " in argv("cpu")

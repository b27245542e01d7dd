"""`make setup`: idempotent install of what the stack needs. Runs under any python3, stdlib only.

.venv + pip (skipped while a stamp matches the requirements' hash), system packages with apt
only when missing (apt-get update first), Kafka jars with Maven only when missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stack_processes import KAFKA_LIBS, POM, REQUIREMENTS, ROOT, VENV, VENV_PYTHON, StackError, say

# --------------------------------------------------------------------------------- setup


def requirements_hash() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(packages: list[str]) -> None:
    prefix: list[str] = [] if is_root() else (["sudo"] if shutil.which("sudo") else [])
    if not is_root() and not prefix:
        raise StackError(
            f"missing system packages: {' '.join(packages)}. Install them as root: apt-get install -y {' '.join(packages)}"
        )
    say(f"installing with apt: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env
    )


def command_setup() -> int:
    VENV.parent.mkdir(exist_ok=True)
    lock_path = ROOT / ".setup.lock" if not VENV.exists() else VENV / ".weir-setup.lock"
    with open(lock_path, "w") as lock:
        # Several `make` invocations may run setup at once; one installs, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            setup_system_packages()
            setup_venv()
            setup_kafka_jars()
        except (StackError, subprocess.CalledProcessError) as exc:
            say(f"setup failed: {exc}")
            return 1
        finally:
            if lock_path.name == ".setup.lock":
                lock_path.unlink(missing_ok=True)
    return 0


def setup_system_packages() -> None:
    wanted = {
        "redis-server": "redis-server",
        "chromium": "chromium",
        "java": "openjdk-17-jre-headless",
        "mvn": "maven",
        "node": "nodejs",
    }
    missing = [package for binary, package in wanted.items() if shutil.which(binary) is None]
    if not (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "venv"
    ).exists():
        missing.append(f"python{sys.version_info.major}.{sys.version_info.minor}-venv")
    if missing:
        apt_install(missing)


def setup_venv() -> None:
    if not VENV_PYTHON.exists():
        if sys.version_info[:2] != (3, 11):
            raise StackError(
                f"Weir needs Python 3.11 for its .venv; this python3 is {sys.version.split()[0]}"
            )
        say("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".weir-requirements.sha256"
    wanted = requirements_hash()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("installing Python packages into .venv")
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(ROOT / "requirements-dev.txt")], check=True, cwd=ROOT)
    stamp.write_text(wanted + "\n")


def setup_kafka_jars() -> None:
    stamp = KAFKA_LIBS / ".pom.sha256"
    wanted = hashlib.sha256(POM.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("fetching the Kafka broker jars from Maven Central (first run only)")
    if KAFKA_LIBS.exists():
        shutil.rmtree(KAFKA_LIBS)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        check=True,
        cwd=ROOT,
    )
    stamp.write_text(wanted + "\n")

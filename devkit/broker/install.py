"""Finding the Mosquitto executables, and installing them with ``apt-get`` when asked to.

:func:`install_mosquitto` is for test set-up and the demo only: nothing in the library calls
it, so importing or starting a broker never installs anything behind anyone's back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from kgtwin.devkit.errors import InstallFailed, MosquittoMissing

PACKAGES = ("mosquitto", "mosquitto-clients")  # the broker; mosquitto_pub and mosquitto_sub

# Where packages put the executables; sbin is often missing from a non-root user's PATH.
_SBIN_DIRS = (Path("/usr/sbin"), Path("/usr/local/sbin"), Path("/opt/homebrew/sbin"))
_BIN_DIRS = (Path("/usr/bin"), Path("/usr/local/bin"), Path("/opt/homebrew/bin"))

_UPDATE_TIMEOUT = 600.0
_INSTALL_TIMEOUT = 900.0
_TAIL_LINES = 20
_NO_CANDIDATE = re.compile(r"^\s*Candidate:\s*\(none\)\s*$", re.MULTILINE)


def find_mosquitto() -> Path | None:
    """The ``mosquitto`` broker executable: on ``PATH``, else in the usual sbin folders."""
    return _find("mosquitto", _SBIN_DIRS)


def find_mosquitto_passwd(mosquitto: Path | None = None) -> Path | None:
    """The ``mosquitto_passwd`` executable: on ``PATH``, beside ``mosquitto``, or in bin."""
    near = (mosquitto.parent,) if mosquitto is not None else ()
    return _find("mosquitto_passwd", (*near, *_BIN_DIRS, *_SBIN_DIRS))


def require_mosquitto() -> Path:
    """:func:`find_mosquitto`, or :class:`MosquittoMissing` saying how to install it."""
    found = find_mosquitto()
    if found is None:
        raise MosquittoMissing(
            "Mosquitto ('mosquitto') is neither on PATH nor in "
            f"{', '.join(str(d) for d in _SBIN_DIRS)}. Install Mosquitto 2 "
            "('apt-get install mosquitto mosquitto-clients' on Debian and Ubuntu, "
            "'brew install mosquitto' on macOS)."
        )
    return found


def install_mosquitto() -> Path:
    """Install Mosquitto and its command-line clients with ``apt-get``; return the broker.

    Returns at once if Mosquitto is already there. Runs ``apt-get update`` first only when
    apt does not know the packages yet. Needs root and a Debian-like system; for test set-up
    and the demo, never called by the library itself.
    """
    found = find_mosquitto()
    if found is not None:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise InstallFailed(
            "Mosquitto is not installed and there is no apt-get to install it with. Install "
            "Mosquitto 2 with your system's package manager (e.g. 'brew install mosquitto')."
        )
    if os.geteuid() != 0:
        raise InstallFailed(
            "Mosquitto is not installed, and installing it with apt-get needs root. Run "
            f"'sudo apt-get install -y {' '.join(PACKAGES)}' once."
        )
    if not _apt_knows(PACKAGES):
        _run([apt_get, "update"], _UPDATE_TIMEOUT)
    _run([apt_get, "install", "-y", "--no-install-recommends", *PACKAGES], _INSTALL_TIMEOUT)
    found = find_mosquitto()
    if found is None:
        raise InstallFailed(
            f"apt-get installed {' and '.join(PACKAGES)} but no 'mosquitto' executable is on "
            f"PATH or in {', '.join(str(d) for d in _SBIN_DIRS)}; check 'dpkg -L mosquitto'."
        )
    return found


def _find(name: str, folders: tuple[Path, ...]) -> Path | None:
    on_path = shutil.which(name)
    if on_path is not None:
        return Path(on_path)
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _apt_knows(packages: tuple[str, ...]) -> bool:
    """Whether apt has an installable version of every package (its lists may be empty)."""
    apt_cache = shutil.which("apt-cache")
    if apt_cache is None:
        return False
    try:
        done = subprocess.run(
            [apt_cache, "policy", *packages],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    # An unknown package prints nothing; a known one without a source says "(none)".
    listed = done.stdout.count("Candidate:")
    return (
        done.returncode == 0 and listed == len(packages) and not _NO_CANDIDATE.search(done.stdout)
    )


def _run(argv: list[str], timeout: float) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InstallFailed(f"'{' '.join(argv)}' did not finish within {timeout:.0f} s.") from exc
    except OSError as exc:
        raise InstallFailed(f"Could not run '{' '.join(argv)}': {exc}") from exc
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).rstrip().splitlines()[-_TAIL_LINES:])
        raise InstallFailed(
            f"'{' '.join(argv)}' failed with exit code {done.returncode}:\n{output}"
        )

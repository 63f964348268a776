"""Copy the files GraphiQL needs from the npm packages pinned in package-lock.json into
server/static/graphiql/vendor, with their licences, so that `kgtwin serve` hands browsers
GraphiQL without any request to another host.

Each package is fetched with `npm pack` at the version the lockfile pins, and its tarball
checked against the lockfile's integrity hash before anything is copied. The result is
committed: a server on a plant network installs it with the package. Run it again after
changing a version in package.json (`npm install --package-lock-only` first):

    python tools/graphiql/vendor.py
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent.parent / "server" / "static" / "graphiql" / "vendor"

# package -> (file in the package, name served); the licence file is found by name
FILES = {
    "react": [("umd/react.production.min.js", "react.production.min.js")],
    "react-dom": [("umd/react-dom.production.min.js", "react-dom.production.min.js")],
    "graphiql": [
        ("graphiql.min.js", "graphiql.min.js"),
        ("graphiql.min.css", "graphiql.min.css"),
    ],
    "@graphiql/plugin-explorer": [
        ("dist/index.umd.js", "plugin-explorer.umd.js"),
        ("dist/style.css", "plugin-explorer.css"),
    ],
}
# @graphiql/plugin-explorer ships no licence file; its package.json says MIT, as graphiql's
# (the same repository, graphql/graphiql): that text, with this note, stands for it.
BORROWED_LICENCE = {"@graphiql/plugin-explorer": "graphiql"}


def locked(lock: dict[str, object], name: str) -> tuple[str, str]:
    packages = lock["packages"]
    assert isinstance(packages, dict)
    entry = packages[f"node_modules/{name}"]
    return entry["version"], entry["integrity"]


def fetch(name: str, version: str, integrity: str, folder: Path) -> tarfile.TarFile:
    """The package's tarball, checked against the lockfile's integrity."""
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tarball = folder / json.loads(out)[0]["filename"]
    algorithm, expected = integrity.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        sys.exit(f"{name}@{version}: the tarball's {algorithm} is not the lockfile's")
    return tarfile.open(tarball)


def member(archive: tarfile.TarFile, path: str) -> bytes:
    extracted = archive.extractfile(f"package/{path}")
    assert extracted is not None, path
    return extracted.read()


def licence(archive: tarfile.TarFile) -> str | None:
    for name in ("LICENSE", "LICENSE.md", "license"):
        try:
            return member(archive, name).decode()
        except KeyError:
            continue
    return None


def main() -> None:
    lock = json.loads((HERE / "package-lock.json").read_text())
    TARGET.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, str]] = {}
    licences: dict[str, str] = {}
    notices = ["# Licences of the GraphiQL files kgtwin serves\n"]
    with tempfile.TemporaryDirectory() as folder:
        archives = {}
        for name, files in FILES.items():
            version, integrity = locked(lock, name)
            archive = archives[name] = fetch(name, version, integrity, Path(folder))
            text = licence(archive)
            if text is not None:
                licences[name] = text
            for source, served in files:
                data = member(archive, source)
                (TARGET / served).write_bytes(data)
                sri = base64.b64encode(hashlib.sha384(data).digest()).decode()
                manifest[served] = {"package": f"{name}@{version}", "file": source}
                manifest[served]["integrity"] = f"sha384-{sri}"
            spec = json.loads(member(archive, "package.json"))
            notices.append(f"\n## {name} {version} ({spec['license']})\n")
            text = licences.get(name) or licences[BORROWED_LICENCE[name]]
            if name in BORROWED_LICENCE:
                notices.append(
                    f"\nThe package has no licence file; its package.json says "
                    f"{spec['license']}, as {BORROWED_LICENCE[name]}'s from the same "
                    "repository, whose text follows.\n"
                )
            notices.append("\n```\n" + text.strip() + "\n```\n")
    (TARGET / "LICENSES.md").write_text("".join(notices))
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(manifest)} files and their licences to {TARGET}")


if __name__ == "__main__":
    main()

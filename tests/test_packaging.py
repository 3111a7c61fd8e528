"""What a release ships works: the sdist and the wheel are built from the checkout as a
release builds them (``python -m build``: the sdist, then the wheel from the unpacked
sdist), the wheel is installed into a fresh virtualenv, and the quickstart runs with
the installed ``reconciler`` command, on the simulator's video and the gallery's
template packaged inside it. A data file left out of the package data, or a file left
out of the sdist, fails here instead of in a user's hands.

Offline and quick: ``--no-isolation`` builds with the dev extra's setuptools, and the
fresh virtualenv reaches the dependencies through a ``.pth`` line naming this
interpreter's site-packages (nothing is downloaded); ``reconciler`` itself is imported
from the wheel, which the test checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from reconciler import DISTRIBUTION, __version__
from reconciler.util import mp4

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ("reconciler.yaml", "vars.yaml", "specs", "decks")
# Beyond the package: what MANIFEST.in promises (the README's first command and its recipes).
SDIST_EXTRAS = ("README.md", "pyproject.toml", "constraints.txt", "HACKING.md", ".pre-commit-hooks.yaml",
                "examples/github-actions.yml", *QUICKSTART)

pytestmark = pytest.mark.timeout(180)


def tracked(*paths: str) -> list[str]:
    """The files of the working tree under ``paths`` that git does not ignore."""
    done = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                           "--", *paths], capture_output=True, check=True)
    return sorted(name for name in done.stdout.decode().split("\0") if name and (ROOT / name).is_file())


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built from a copy of the checkout's files (not its
    ignored ones: no stale egg-info may fill in for MANIFEST.in)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the files to package are the ones git does not ignore)")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in tracked("."):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src)
    return out


def only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def test_the_sdist_holds_the_package_and_the_quickstart(dist):
    sdist = only(dist, "*.tar.gz")
    top = f"{DISTRIBUTION.replace('-', '_')}-{__version__}/"
    assert sdist.name == f"{top[:-1]}.tar.gz"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(top) for n in tar.getnames()}
    missing = set(tracked("reconciler", *SDIST_EXTRAS)) - names
    assert not missing, f"missing from the sdist (MANIFEST.in): {sorted(missing)}"
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)


def test_the_installed_wheel_runs_the_quickstart(dist, tmp_path):
    wheel = only(dist, "*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
        metadata = zf.read(f"{wheel.name.split('-')[0]}-{__version__}.dist-info/METADATA").decode()
    missing = set(tracked("reconciler")) - shipped
    assert not missing, f"missing from the wheel (package-data in pyproject.toml): {sorted(missing)}"
    # the name and the extras the README and examples/github-actions.yml install
    assert f"\nName: {DISTRIBUTION}\n" in metadata
    assert {"Provides-Extra: postgresql", "Provides-Extra: s3"} <= set(metadata.splitlines())

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # The dependencies, from this interpreter (appended after the wheel's own site-packages;
    # a directory named in a .pth has its own .pth files ignored, so no editable reconciler).
    deps = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (purelib / "deps-from-the-test-env.pth").write_text("\n".join(deps) + "\n")
    where = run(python, "-c", "import reconciler; print(reconciler.__file__)", cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(purelib), f"reconciler imported from {where}, not the wheel"

    command = env_dir / "bin" / "reconciler"
    assert run(command, "--version").stdout == f"reconciler {__version__} ({DISTRIBUTION})\n"

    project = tmp_path / "quickstart"
    project.mkdir()
    for name in QUICKSTART:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, project / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "XINGYUN_", "UNISOUND_"))}
    env["RECONCILER_SIM_RENDER_SECONDS"] = "0.2"
    planned = json.loads(run(command, "plan", "--json", cwd=project, env=env).stdout)["changes"]
    assert planned and {c["action"] for c in planned} == {"create"}
    run(command, "apply", "--auto-approve", cwd=project, env=env)

    videos = json.loads((project / "state" / "manifest.json").read_text(encoding="utf-8"))["videos"]
    assert set(videos) == {c["address"] for c in planned}
    for address, video in videos.items():
        assert video["status"] == "finished", (address, video)
        output = project / video["file"]
        assert mp4.problem(output) is None, address  # the packaged simulator video, rendered
        assert hashlib.sha256(output.read_bytes()).hexdigest() == video["sha256"]
    run(command, "gallery", cwd=project, env=env)  # the packaged page template
    page = (project / "site" / "index.html").read_text(encoding="utf-8")
    assert all(address in page for address in videos)

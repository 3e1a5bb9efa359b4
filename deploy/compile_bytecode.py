"""Add checked hash-based .pyc files to a function zip, compiled by the runtime's Python, 3.13.

Lambda's /var/task is read-only, so without bytecode in the zip every cold start compiles every
module it imports, again. Timestamp-based .pyc cannot help: zip entries carry 1980-01-01 dates, so
Python would find them stale. Hash-based .pyc are valid whatever the dates. They are *checked*:
Python hashes the source beside the .pyc at import (SipHash, about a millisecond for the whole
package) and compiles afresh if they differ, so a file edited after packaging can never run stale
bytecode. UNCHECKED_HASH would save that millisecond and trust that nothing ever edits the zip.

    python -m deploy.compile_bytecode .serverless/otp.zip
"""

from __future__ import annotations

import compileall
import py_compile
import re
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME = (3, 13)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# libphonenumber's per-region metadata: hundreds of modules, of which a container imports only the
# few regions it sees, each on first use. Their bytecode would be most of the zip's size budget
# for a millisecond or so per region actually used, so they stay source only.
LEFT_AS_SOURCE = re.compile(r"phonenumbers/(short)?data/region_[A-Z0-9_]+\.py$")


def add_bytecode(archive: Path) -> int:
    """Rewrite ``archive`` with a .pyc beside each .py; the number of .pyc files it now holds."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with zipfile.ZipFile(archive) as source:
            entries = source.infolist()
            source.extractall(root)
        compileall.compile_dir(
            root,
            quiet=2,
            workers=1,
            rx=LEFT_AS_SOURCE,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            stripdir=str(root),  # tracebacks name the path inside the zip
        )
        existing = {entry.filename for entry in entries}
        compiled = sorted(path for path in root.rglob("*.pyc") if path.relative_to(root).as_posix() not in existing)
        rewritten = archive.with_suffix(".tmp")
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
            for entry in entries:
                target.writestr(entry, (root / entry.filename).read_bytes() if not entry.is_dir() else b"")
            for path in compiled:
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(info, path.read_bytes())
        rewritten.replace(archive)
    return len(compiled)


def main(paths: list[str]) -> int:
    if sys.version_info[:2] != RUNTIME:
        print(
            f"compile_bytecode: Lambda runs Python {RUNTIME[0]}.{RUNTIME[1]}, this is "
            f"{sys.version_info[0]}.{sys.version_info[1]}; bytecode of another version would be ignored "
            "at run time. Build .venv with Python 3.13 (make clean venv).",
            file=sys.stderr,
        )
        return 2
    for path in paths:
        count = add_bytecode(Path(path))
        print(f"compile_bytecode: {count} checked hash-based .pyc files added to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

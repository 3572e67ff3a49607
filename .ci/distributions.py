"""What the built wheel and sdist hold, for CI.

The wheel: its packages, the data files the package reads, and nothing that is not
the package (no tests, benchmarks, docs or examples). The sdist: its top level.
Exits non-zero, naming what is wrong.

    python .ci/distributions.py DIST_FOLDER
"""

import sys
import tarfile
import zipfile
from pathlib import Path

dist = Path(sys.argv[1])
names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
packages = sorted({n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")})
print(f"wheel: {len(names)} files; packages: {', '.join(packages)}")
missing = {"agencyaccess_async/py.typed", "agencyaccess_async/catalog.txt"} - set(names)
stray = [n for n in names if n.split("/")[0] in ("tests", "benchmarks", "docs", "examples")]
with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
    top = sorted({m.name.split("/")[1] for m in sdist.getmembers() if m.name.count("/")})
print(f"sdist: {', '.join(top)}")
if missing or stray:
    sys.exit(f"the wheel lacks {sorted(missing)} or holds {stray[:5]}")

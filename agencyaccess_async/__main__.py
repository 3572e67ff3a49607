"""``python -m agencyaccess_async``: the same CLI as ``agencyaccess-async``."""

from ._cli import main

raise SystemExit(main())

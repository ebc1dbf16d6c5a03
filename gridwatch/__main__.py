"""`python -m gridwatch ...` is the `gridwatch` command."""

from gridwatch.cli import main

raise SystemExit(main())

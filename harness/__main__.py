"""`python -m harness ...` is the `gridwatch` command."""

from harness.cli import main

raise SystemExit(main())

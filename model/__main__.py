"""`python -m model` is the `icsabm` command."""

from model.cli import main

raise SystemExit(main())

"""`python -m evalkit.providers.local [MODEL]`: convert a model once and print its folder."""

from evalkit.providers.local.files import main

raise SystemExit(main())

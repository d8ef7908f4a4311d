"""``python -m tfsverify.serving [TF Serving flags]``: run the TF-Serving-compatible server."""

from tfsverify.serving.server import main

raise SystemExit(main())

"""Locust runs of the tfsverify load profiles (interactive web UI, distributed runs).

    locust -f scenarios/locustfile.py --host 127.0.0.1:8500 \
        --tfsverify-profile scenarios/profiles/ramp.yaml

The profile's rate is followed by a shape that runs ``rate / per_user_rps`` closed-loop
users; every answer is checked against the golden vectors. For SLO gates and performance
reports use ``tfsverify load`` (open loop, corrected for coordinated omission, exact HDR
percentiles); see tfsverify/load/locust_user.py for why.
"""

import locust  # noqa: F401  (first: gevent must patch before anything else is imported)

from tfsverify.load.locust_user import PredictUser, ProfileShape

__all__ = ["PredictUser", "ProfileShape"]

"""Open-loop gRPC load for TF Serving: profiles, the engine, HDR histograms, time series.

Typical use::

    from tfsverify.load import load_profile, run_load
    from tfsverify.serving.golden import load_golden

    result = run_load(load_profile("scenarios/profiles/constant.yaml"), target.endpoint,
                      golden=load_golden())
    print(result.to_json())

Locust integration lives in ``tfsverify.load.locust_user``, which imports locust (and so
gevent's monkey-patching): it is imported only by ``scenarios/locustfile.py``, never here.
"""

from tfsverify.load.engine import Progress
from tfsverify.load.mesh import ClientTls, Upstream, fixed_upstream
from tfsverify.load.profiles import Profile, Stage, load_profile, profile_from_dict
from tfsverify.load.recorder import CLIENT_OVERLOAD, IntervalStats
from tfsverify.load.result import SCHEMA_VERSION, LoadResult
from tfsverify.load.runner import run_load

__all__ = [
    "CLIENT_OVERLOAD",
    "SCHEMA_VERSION",
    "ClientTls",
    "IntervalStats",
    "LoadResult",
    "Profile",
    "Progress",
    "Stage",
    "Upstream",
    "fixed_upstream",
    "load_profile",
    "profile_from_dict",
    "run_load",
]

"""The lab: target hosts in network namespaces behind a router and a link with delay and loss.

Tests use `lab(scenario)`; benchmarks `scenario_network(name)`, which gives
(scanner namespace, target addresses); by hand, `python -m tests.support.lab
up NAME` and `down`.  See network.py for the layout, scenario.py for the
scenarios.
"""

from tests.support.lab.network import (
    Lab,
    build,
    lab,
    lab_namespaces,
    leftovers,
    remove,
    scenario_network,
)
from tests.support.lab.scenario import REJECTS, SCENARIOS, Host, Reject, Scenario

__all__ = [
    "REJECTS",
    "SCENARIOS",
    "Host",
    "Lab",
    "Reject",
    "Scenario",
    "build",
    "lab",
    "lab_namespaces",
    "leftovers",
    "remove",
    "scenario_network",
]

"""The lab: target hosts in network namespaces behind a link with delay and loss."""

from tests.support.lab.network import Lab, lab
from tests.support.lab.scenario import SCENARIOS, Host, Scenario

__all__ = ["SCENARIOS", "Host", "Lab", "Scenario", "lab"]

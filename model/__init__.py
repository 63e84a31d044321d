"""icsabm: an agent-based model of collaboration between ICS partner organisations."""

from model import jit_cache

jit_cache.check()  # before any kernel is loaded from numba's cache

from model.batch import run_replicates  # noqa: E402
from model.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402

__version__ = "0.1.0"
__all__ = ["ICSModel", "Scenario", "ScenarioError", "load_scenario", "run_replicates"]


def __getattr__(name: str):
    if name == "ICSModel":  # imported lazily: mesa is heavier than the kernels
        from model.ics_model import ICSModel

        return ICSModel
    raise AttributeError(f"module 'model' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names with the lazily imported `ICSModel` (tab completion)."""
    return sorted({*globals(), *__all__})

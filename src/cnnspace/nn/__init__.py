"""Turns specs into torch modules."""
from ._init import INIT_SCHEMES, initialise
from ._layers import BUILDERS
from ._module import SpecModule, build

__all__ = ["BUILDERS", "INIT_SCHEMES", "SpecModule", "build", "initialise"]

"""cysym.mod: the Module training API."""
from .module import BaseModule, Module

__all__ = ["BaseModule", "Module"]

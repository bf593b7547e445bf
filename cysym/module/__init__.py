"""cysym.mod: the Module training API."""
from .module import BaseModule, Module
from .bucketing_module import BucketingModule

__all__ = ["BaseModule", "Module", "BucketingModule"]

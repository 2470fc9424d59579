"""rmflow: reward models for multi-domain test-time scaling, as a reproducible pipeline."""

__version__ = "0.1.0"

"""Synthos: validate synthetic training data against a real reference.

The library holds every algorithm and never imports kfp; the KFP components and pipelines
beside it (``synthos_components``, ``synthos_pipelines``) only call into it.
"""

__version__ = "0.1.0"

"""The one place that names the component image (built from images/Dockerfile).

Tags are immutable: a new release gets a new tag, never ``latest``.
"""

import synthos

REGISTRY = "ghcr.io/synthos-ai/synthos"
IMAGE = f"{REGISTRY}:{synthos.__version__}"

"""Recommendations whose impact is measured: each action that transforms the data is applied
and the collapse dimensions re-scored; generator changes are labelled estimates."""

from synthos.recommend.measure import recommend

__all__ = ["recommend"]

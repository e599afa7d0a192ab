"""OmegaConf resolvers used by the Hydra configs."""

from __future__ import annotations

import uuid

from omegaconf import OmegaConf


def register_resolvers() -> None:
    """``${kp_uid:}``: a random suffix, cached per process, so concurrent runs never share a folder."""
    if not OmegaConf.has_resolver("kp_uid"):
        OmegaConf.register_new_resolver("kp_uid", lambda: uuid.uuid4().hex[:6], use_cache=True)

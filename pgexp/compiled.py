"""``hardware.compile``: torch.compile on a neural policy's network (a torch env compiles its
own step: ``Env.compiled``)."""

from __future__ import annotations

import torch

from pgexp.policies import Policy


def compile_policy(policy: Policy) -> None:
    """Compile a neural policy's network in place (parameter names and state-dict keys do not
    change); table policies are left as they are."""
    net = getattr(policy, "net", None)
    if isinstance(net, torch.nn.Module):
        net.compile()

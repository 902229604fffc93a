"""AMP on rl_games 1.6.5: agent, player, model, network builder, discriminator, replay buffer.

Entry point: awd.learning.register (register_rl_games_components, register_env and the env contract).

rl_games' example network module (rl_games/envs/test_network.py, imported by every rl_games module that reads
`env_configurations`) applies `@torch.compile` when imported, which loads torch._dynamo and torch._inductor: about
5 s of start-up in every process that trains, plays or judges, for a network awd never uses. While that package is
first imported here, `torch.compile` hands functions back unchanged; it is restored right after (a config's
`torch_compile: true` still compiles).
"""

import torch


def _import_rl_games_envs() -> None:
    compile_ = torch.compile
    torch.compile = lambda model=None, **options: model if model is not None else (lambda fn: fn)
    try:
        import rl_games.envs  # noqa: F401
    finally:
        torch.compile = compile_


_import_rl_games_envs()

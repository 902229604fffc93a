"""AMP on rl_games 1.6.5: agent, player, model, network builder, discriminator, replay buffer.

Entry point: awd.learning.register (register_rl_games_components, register_env and the env contract).
"""

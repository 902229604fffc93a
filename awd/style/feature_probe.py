"""Which AMP features tell a policy from its clips? A discriminator trained from scratch on single AMP frames of the
policy (CPU MuJoCo, at every judged clip's command after the settling time; an imitation policy, which takes no
command, runs free from the default pose for the rest of its episode, as its style check watches it) against demo
frames of the dataset, once on each feature group alone and once on all groups but that one, with the training
run's instance noise.

A group that separates the two alone is where the policy's motion differs from the clips (or where the features
are computed differently for demos and physics); all groups but one still separating means no single group is to
blame. Per feature, the policy's spread next to the demos' and the gap of the means in pooled spreads.
CLI: benchmarks/feature_probe.py.
"""

from __future__ import annotations

import torch

from awd.style.judge import PolicyUnderTest, StyleSettings, judged_commands
from awd.style.recording import build_style_env
from awd.style.physics_check import build_replay_env, feature_names
from awd.tasks.amp_features import frame_from_engine, frame_from_motion

TRAIN_SHARE = 0.7


@torch.no_grad()
def policy_and_demo_frames(policy: PolicyUnderTest, settings: StyleSettings = StyleSettings()):
    """(policy frames (M, F), demo frames (M, F), feature names): the policy at every judged clip's command, or
    running free if it takes no command."""
    commands, _, settings = judged_commands(policy, settings)
    env = build_style_env(policy.env_config, len(commands) if commands is not None else 1, settings,
                          settings.settle_s + settings.measure_s)
    if commands is not None:
        env.set_commands(torch.as_tensor(commands, dtype=torch.float32))
    obs = env.reset()
    settle, measure = int(round(settings.settle_s / env.dt)), int(round(settings.measure_s / env.dt))
    frames = []
    for step in range(settle + measure):
        obs, _, _, _ = env.step(policy.act(obs).to(env.device))
        if step >= settle:
            frames.append(frame_from_engine(env.amp_layout, env.engine, env.key_body_indices).cpu())
    agent = torch.cat(frames)
    demo_env = build_replay_env({**policy.env_config, "env": {**policy.env_config["env"],
                                                              "motion_file": str(policy.motion_file)}}, 1)
    ids, times = demo_env.motion_lib.sample_windows(len(agent), 1, demo_env.dt,
                                                   generator=torch.Generator().manual_seed(settings.seed))
    demo = frame_from_motion(env.amp_layout, demo_env.motion_lib.get_state(ids, times)).float()
    return agent, demo, feature_names(env.amp_layout)


def separability(agent: torch.Tensor, demo: torch.Tensor, noise: float = 0.0, seed: int = 0, steps: int = 400) -> float:
    """Balanced held-out accuracy of an MLP telling `agent` rows from `demo` rows (inputs normalised by their
    pooled mean and std, Gaussian noise of std `noise` on them in training and test)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.cat([agent, demo])
    x = (x - x.mean(0)) / x.std(0).clamp_min(1e-6)
    labels = torch.cat([torch.zeros(len(agent)), torch.ones(len(demo))])
    order = torch.randperm(len(x), generator=generator)
    cut = int(TRAIN_SHARE * len(x))
    train, test = order[:cut], order[cut:]
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        batch = train[torch.randint(len(train), (1024,), generator=generator)]
        inputs = x[batch] + noise * torch.randn(len(batch), x.shape[1], generator=generator)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(inputs).squeeze(-1), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        inputs = x[test] + noise * torch.randn(len(test), x.shape[1], generator=generator)
        said_demo = net(inputs).squeeze(-1) > 0
        truth = labels[test] > 0.5
    return float(0.5 * ((~said_demo[~truth]).float().mean() + said_demo[truth].float().mean()))


def probe(agent: torch.Tensor, demo: torch.Tensor, names: list[str], noise: float = 0.0, top: int = 10,
          steps: int = 400) -> dict:
    """Separability with every live feature, per group alone and without it; the features whose spread differs most."""
    live = (agent.std(0) + demo.std(0)) > 0
    groups = list(dict.fromkeys(name.split("[")[0] for name in names))
    rows = []
    for group in groups:
        member = torch.tensor([name.split("[")[0] == group for name in names]) & live
        if member.any():
            rows.append({"group": group, "features": int(member.sum()),
                         "alone": separability(agent[:, member], demo[:, member], noise, steps=steps),
                         "without": separability(agent[:, live & ~member], demo[:, live & ~member], noise,
                                                 steps=steps)})
    pooled = torch.cat([agent, demo]).std(0).clamp_min(1e-6)
    ratio = agent.std(0) / demo.std(0).clamp_min(1e-6)
    features = [{"feature": names[i], "policy_spread": float(agent[:, i].std()), "demo_spread": float(demo[:, i].std()),
                 "mean_gap_in_spreads": float((agent[:, i].mean() - demo[:, i].mean()).abs() / pooled[i])}
                for i in ratio.argsort(descending=True)[:top].tolist() if live[i]]
    return {"frames": len(agent), "noise": noise, "all": separability(agent[:, live], demo[:, live], noise,
                                                                      steps=steps),
            "groups": rows, "features": features}


def format_probe(result: dict) -> str:
    lines = [f"held-out accuracy telling {result['frames']} policy frames from as many demo frames "
             f"(instance noise {result['noise']}): all features {result['all']:.3f}", "",
             "| group | features | alone | all but this group |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r['group']} | {r['features']} | {r['alone']:.3f} | {r['without']:.3f} |" for r in result["groups"]]
    lines += ["", "| feature | policy spread | demo spread | mean gap (pooled spreads) |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {f['feature']} | {f['policy_spread']:.4f} | {f['demo_spread']:.4f} | {f['mean_gap_in_spreads']:.2f} |"
              for f in result["features"]]
    return "\n".join(lines)

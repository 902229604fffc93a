"""An independent style check that training cannot be tuned against: a small classifier trained from scratch to
tell a policy's motion from its clips, scored on held-out windows.

Each frame is described by every joint angle, the trunk height, gravity in the trunk frame, the trunk's linear
and angular velocity in the yaw frame, both feet relative to the trunk in the yaw frame and the foot contacts;
`WINDOW` consecutive frames make one sample. Every feature is observed through Gaussian noise of a real robot's
sensing scale (`SENSOR_NOISE`), so that what no physical robot reproduces exactly (a clip's perfectly rigid trunk
holds its pitch to 1e-6 rad) does not decide the score, while a wrong posture, stride or foot lift still does.
Each motion's windows are split in time: the first `TRAIN_SHARE` train, the rest (after a gap of one window)
test. The score is the balanced accuracy on the test windows: 0.5 when the classifier cannot tell them apart.
"""

from __future__ import annotations

import numpy as np
import torch

from awd.style.gait import Gait, yaw_angle

WINDOW = 5
TRAIN_SHARE = 0.7
SENSOR_NOISE = {"joints": 0.02, "height": 0.005, "gravity": 0.02, "lin_vel": 0.05, "ang_vel": 0.2, "feet": 0.005,
                "contacts": 0.0}


def frame_features(gait: Gait, parts: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, F) features and (F,) their noise scales, of every part of SENSOR_NOISE or of `parts` alone."""
    yaw = yaw_angle(gait.root_quat)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]

    def heading(v):  # (T, k, 3) world -> yaw frame, flattened
        x, y = v[..., 0], v[..., 1]
        return np.stack([c * x + s * y, -s * x + c * y, v[..., 2]], axis=-1).reshape(len(v), -1)

    x, y, z, w = gait.root_quat.T
    gravity = -np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)
    found = {"joints": gait.joint_pos, "height": gait.root_pos[:, 2:3], "gravity": gravity,
             "lin_vel": heading(gait.root_lin_vel[:, None]), "ang_vel": heading(gait.root_ang_vel[:, None]),
             "feet": heading(gait.foot_pos - gait.root_pos[:, None]),
             "contacts": gait.foot_contacts.astype(np.float64)}
    chosen = {name: features for name, features in found.items() if parts is None or name in parts}
    return (np.concatenate(list(chosen.values()), axis=-1),
            np.concatenate([np.full(part.shape[1], SENSOR_NOISE[name]) for name, part in chosen.items()]))


def _windows(features: np.ndarray) -> np.ndarray:
    count = len(features) - WINDOW + 1
    return np.stack([features[i:i + count] for i in range(WINDOW)], axis=1).reshape(count, -1)


def _split(gait: Gait, rng: np.random.Generator, parts) -> tuple[np.ndarray, np.ndarray]:
    features, scales = frame_features(gait, parts)
    windows = _windows(features + rng.normal(size=features.shape) * scales)
    cut = int(TRAIN_SHARE * len(windows))
    return windows[:cut], windows[cut + WINDOW:]


def held_out_accuracy(policy: list[Gait], clips: list[Gait], seed: int = 0, steps: int = 300,
                      parts: tuple[str, ...] | None = None) -> float:
    """Balanced held-out accuracy of a classifier telling `policy` motions from `clips` (by `parts` of the
    features alone, when given)."""
    rng = np.random.default_rng(seed)
    splits = [[_split(g, rng, parts) for g in group] for group in (policy, clips)]
    train = [np.concatenate([s[0] for s in group]) for group in splits]
    test = [np.concatenate([s[1] for s in group]) for group in splits]
    if min(len(t) for t in train + test) == 0:
        raise ValueError("style classifier: a motion is too short to give train and test windows")
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.concatenate(train), dtype=torch.float32)
    labels = torch.cat([torch.zeros(len(train[0])), torch.ones(len(train[1]))])
    weights = torch.cat([torch.full((len(train[0]),), 0.5 / len(train[0])), torch.full((len(train[1]),),
                                                                                       0.5 / len(train[1]))])
    mean, std = x.mean(0), x.std(0) + 1e-6
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ELU(), torch.nn.Linear(64, 1))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / layer.weight.shape[1] ** 0.5)
            layer.bias.zero_()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    inputs = (x - mean) / std
    for _ in range(steps):
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(net(inputs).squeeze(-1), labels,
                                                                     reduction="none") * weights).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        hits = [((net((torch.as_tensor(t, dtype=torch.float32) - mean) / std).squeeze(-1) > 0).float() == label)
                .float().mean() for t, label in zip(test, (0.0, 1.0))]
    return float(sum(hits) / 2)


def one_motion_accuracies(names: list[str], clips: list[Gait], seed: int = 0,
                          repeats: int = 5) -> list[tuple[str, float]]:
    """(name, held-out accuracy), lowest first: each clip played `repeats` times as one motion against all `clips`,
    what a perfect imitator of that clip alone scores in an imitation task's style check (awd.style.imitation)."""
    rows = [(name, held_out_accuracy([clip.repeated(repeats)], clips, seed=seed)) for name, clip in zip(names, clips)]
    return sorted(rows, key=lambda row: row[1])

"""MuJoCo Warp engine on Warp's CPU backend (the same kernels as on a GPU, without CUDA graphs): the engine
contract, one-step agreement with the CPU MuJoCo reference (the duck and the G1), masked resets, invalid-state
and overflow flags, and domain randomisation matching the CPU engine's."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from awd.engine import make_engine
from awd.engine.compare import compare_one_step, differences, failures
from awd.robot import load_robot_spec
from awd.engine import default_tracked_bodies as tracked_bodies

pytestmark = [pytest.mark.xdist_group("warp"),  # one worker compiles the kernels (pytest.ini)
              pytest.mark.skipif(importlib.util.find_spec("mujoco_warp") is None,
                                 reason="mujoco_warp not installed (pip install -e \".[gpu]\")")]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from check_warp_engine import clip_states  # noqa: E402

NUM_ENVS = 6
FLOAT_FIELDS = ("root_pos", "root_quat", "root_lin_vel", "root_ang_vel", "joint_pos", "joint_vel", "body_pos",
                "foot_contact_forces", "joint_torques")
BOOL_FIELDS = ("foot_contacts", "non_foot_ground_contact", "invalid")


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module")
def engines(spec):
    bodies = tracked_bodies(spec)
    return (make_engine("mujoco_warp", spec, NUM_ENVS, "cpu", bodies),
            make_engine("mujoco", spec, NUM_ENVS, "cpu", bodies, num_threads=1))


def clip_targets(state, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return state["joint_pos"] + 0.25 * torch.randn(state["joint_pos"].shape, generator=generator)


def test_state_tensors_follow_the_engine_contract(spec, engines):
    engine, _ = engines
    N, n, B = NUM_ENVS, spec.num_joints, len(engine.tracked_bodies)
    shapes = {"root_pos": (N, 3), "root_quat": (N, 4), "root_lin_vel": (N, 3), "root_ang_vel": (N, 3),
              "joint_pos": (N, n), "joint_vel": (N, n), "body_pos": (N, B, 3), "foot_contacts": (N, 2),
              "foot_contact_forces": (N, 2), "non_foot_ground_contact": (N,), "joint_torques": (N, n), "invalid": (N,)}
    before = {field: getattr(engine, field) for field in shapes}
    engine.step(torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(N, -1))
    for field, shape in shapes.items():
        tensor = getattr(engine, field)
        assert tensor is before[field], f"{field} must be the same tensor object across steps"
        assert tuple(tensor.shape) == shape, field
        assert tensor.dtype == (torch.bool if field in BOOL_FIELDS else torch.float32), field
        assert tensor.device == engine.device, field
    assert engine.name == "mujoco_warp" and engine.nconmax > 0 and engine.njmax > 0


def test_one_policy_step_matches_cpu_mujoco(spec, engines):
    state = {k: v.float() for k, v in clip_states(spec, NUM_ENVS, seed=1).items()}
    result = compare_one_step(*engines, state, clip_targets(state))
    assert failures(result["reset"]) == [] and failures(result["step"]) == [], result
    assert engines[0].foot_contacts.any(), "clip frames should have feet on the floor"


def test_feet_pressed_into_each_other_collide_as_in_cpu_mujoco(spec, engines):
    # box against box: MuJoCo Warp's convex collider (GJK/EPA; its kernel alone compiles for 35-40 s on a GPU) gave
    # other contacts than CPU MuJoCo's box-box collider, which the engine now selects (NATIVECCD disabled)
    crossed = torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).repeat(NUM_ENVS, 1)
    inwards = torch.linspace(0.15, 0.35, NUM_ENVS)
    crossed[:, spec.joint_names.index("left_hip_roll")] -= inwards
    crossed[:, spec.joint_names.index("right_hip_roll")] += inwards
    zeros = torch.zeros(NUM_ENVS, 3)
    state = {"root_pos": torch.tensor([0.0, 0.0, 0.35]).repeat(NUM_ENVS, 1),
             "root_quat": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(NUM_ENVS, 1), "root_lin_vel": zeros,
             "root_ang_vel": zeros, "joint_pos": crossed, "joint_vel": torch.zeros_like(crossed)}
    result = compare_one_step(*engines, state, crossed)
    assert failures(result["step"], max_share=0.0) == [], result
    assert all(data.ncon > 0 for data in engines[1]._datas), "the feet should touch in every env"


def test_g1_policy_step_matches_cpu_mujoco():
    g1 = load_robot_spec("g1")
    bodies = tracked_bodies(g1)
    engines = (make_engine("mujoco_warp", g1, 4, "cpu", bodies),
               make_engine("mujoco", g1, 4, "cpu", bodies, num_threads=1))
    state = {k: v.float() for k, v in clip_states(g1, 4, seed=1).items()}
    result = compare_one_step(*engines, state, clip_targets(state))
    assert failures(result["reset"]) == [] and failures(result["step"]) == [], result
    assert engines[0].foot_contacts.any()


def test_reset_where_changes_only_masked_envs(spec, engines):
    engine, _ = engines
    state = {k: v.float() for k, v in clip_states(spec, NUM_ENVS, seed=2).items()}
    engine.reset(torch.arange(NUM_ENVS), **state)
    other = {k: v.float() for k, v in clip_states(spec, NUM_ENVS, seed=3).items()}
    mask = torch.tensor([True, False, True, False, False, True])
    engine.reset_where(mask, **other)
    for field in ("root_pos", "root_quat", "root_lin_vel", "root_ang_vel", "joint_pos", "joint_vel"):
        value = getattr(engine, field)
        assert torch.allclose(value[mask], other[field][mask], atol=1e-5), field
        assert torch.allclose(value[~mask], state[field][~mask], atol=1e-5), field


def test_non_finite_state_is_flagged_until_reset(spec, engines):
    engine, _ = engines
    state = {k: v.float() for k, v in clip_states(spec, NUM_ENVS, seed=4).items()}
    engine.reset(torch.arange(NUM_ENVS), **state)
    before = engine.num_invalid_total
    bad = {k: v[1:2].clone() for k, v in state.items()}
    bad["joint_vel"][0, 0] = float("nan")
    engine.reset(torch.tensor([1]), **bad)
    engine.step(state["joint_pos"])
    assert engine.invalid.tolist() == [False, True, False, False, False, False]
    assert engine.num_invalid_total == before + 1
    engine.reset(torch.tensor([1]), **{k: v[1:2] for k, v in state.items()})
    assert not engine.invalid.any()


def test_constraint_overflow_flags_the_envs(spec):
    engine = make_engine("mujoco_warp", spec, 2, "cpu", tracked_bodies(spec), njmax=4)
    engine.step(torch.as_tensor(spec.default_joint_pos, dtype=torch.float32).expand(2, -1))
    assert engine.invalid.all(), "two feet on the floor need more than 4 constraint rows"



def test_solver_iteration_cap_is_not_an_invalid_state(spec):
    engine = make_engine("mujoco_warp", spec, 2, "cpu", tracked_bodies(spec))
    engine._m.opt.iterations = 1
    state = {k: v.float() for k, v in clip_states(spec, 2, seed=3).items()}
    engine.reset(torch.arange(2), *(state[k] for k in ("root_pos", "root_quat", "root_lin_vel", "root_ang_vel",
                                                         "joint_pos", "joint_vel")))
    engine.step(clip_targets(state, seed=3))
    assert (engine._overflow != 0).any(), "one Newton iteration should not converge from a clip state"
    assert not engine.invalid.any()

def test_domain_randomisation_matches_the_cpu_engine(spec):
    bodies = tracked_bodies(spec)
    warp_engine = make_engine("mujoco_warp", spec, 3, "cpu", bodies)
    cpu_engine = make_engine("mujoco", spec, 3, "cpu", bodies, num_threads=1)
    ids = torch.tensor([0, 2])
    for engine in (warp_engine, cpu_engine):
        engine.set_friction_scale(ids, torch.tensor([0.5, 1.5]))
        engine.set_torque_scale(ids, torch.tensor([[0.0] * spec.num_joints, [1.1] * spec.num_joints]))
        engine.set_mass_offset(ids, torch.tensor([0.1, -0.05]), torch.tensor([[0.01, 0.0, 0.0], [0.0, -0.01, 0.0]]))
    state = {k: v.float() for k, v in clip_states(spec, 3, seed=5).items()}
    result = compare_one_step(warp_engine, cpu_engine, state, clip_targets(state, seed=5))
    assert failures(result["step"]) == [], result
    assert warp_engine.joint_torques[0].abs().max() == 0.0 and warp_engine.joint_torques[1].abs().max() > 0.0
    for engine in (warp_engine, cpu_engine):
        engine.apply_root_velocity(torch.tensor([1]), torch.tensor([[0.3, -0.2]]))
    assert failures(differences(warp_engine, cpu_engine)) == []

"""What a spec's bodies must be in its MJCF (awd.robot.spec uses these while it loads a spec): the free-joint body
(the root), the trunk frame welded to it (a body or a site) and its fixed turn, each foot's contact body with
collision geometry in reach, and the feet's lowest point on the floor at the default pose."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from awd.errors import AwdError


def free_body(path: Path, model: mujoco.MjModel) -> str:
    free = np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)
    if len(free) != 1:
        raise AwdError(path, "mjcf", f"expected one free joint (the floating base), found {len(free)}")
    return model.body(model.jnt_bodyid[free[0]]).name


_BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)


def collision_corners(model: mujoco.MjModel, data: mujoco.MjData, body: int) -> np.ndarray:
    """(k, 3) world corners of the bounding box of every colliding geom in the subtree of `body`, in `data`'s pose."""
    corners = [data.geom_xpos[geom] + (model.geom_aabb[geom, :3] + _BOX_CORNERS * model.geom_aabb[geom, 3:])
               @ data.geom_xmat[geom].reshape(3, 3).T
               for geom in range(model.ngeom) if (model.geom_contype[geom] or model.geom_conaffinity[geom])
               and is_in_subtree(model, model.geom_bodyid[geom], body)]
    return np.concatenate(corners) if corners else np.zeros((0, 3))


def lowest_foot_point(model: mujoco.MjModel, data: mujoco.MjData, spec) -> float:
    """The lowest z of the feet's collision geometry (corners of each geom's bounding box) in `data`'s pose."""
    heights = [collision_corners(model, data, model.body(name).id)[:, 2] for name in spec.foot_contact_bodies]
    return float(min((h.min() for h in heights if len(h)), default=np.inf))


def trunk_in_root(path: Path, model: mujoco.MjModel, trunk: str, site: str | None) -> np.ndarray:
    """The trunk frame's (the body's, or the site's on it) fixed rotation in the free-joint body's frame; refused
    when a joint lies between them."""
    body = model.body(trunk).id
    root = model.body_rootid[body]
    rotation = np.eye(3)
    if site:
        local = np.zeros(9)
        mujoco.mju_quat2Mat(local, model.site(site).quat)
        rotation = local.reshape(3, 3)
    while body != root:
        if model.body_jntnum[body]:
            raise AwdError(path, "bodies.trunk", f"{trunk!r} moves relative to the free-joint body "
                           f"{model.body(root).name!r} (joint {model.joint(model.body_jntadr[body]).name!r} between "
                           "them); name a body welded to it")
        local = np.zeros(9)
        mujoco.mju_quat2Mat(local, model.body_quat[body])
        rotation = local.reshape(3, 3) @ rotation
        body = model.body_parentid[body]
    return rotation


def check_standing_height(spec, tolerance: float = 0.005) -> None:
    """The feet's lowest collision geometry (AABB corners) on the floor at the default pose, within `tolerance` (m)."""
    from awd.robot.model import default_qpos, kinematic_model

    model = kinematic_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    mujoco.mj_kinematics(model, data)
    lowest = lowest_foot_point(model, data, spec)
    if abs(lowest) > tolerance:
        where = "above" if lowest > 0 else "under"
        raise AwdError(spec.spec_path, "init.root_height",
                       f"the feet are {abs(lowest) * 1e3:.1f} mm {where} the floor at the default pose; the root "
                       f"height is that of the free-joint body {spec.root_body!r}: "
                       f"{spec.init_root_height - lowest:.4f} m puts them on it")


def colliding_geoms(model: mujoco.MjModel, body: int) -> int:
    """How many geoms that can collide (contype or conaffinity set) the subtree of `body` holds."""
    inside = [b for b in range(model.nbody) if is_in_subtree(model, b, body)]
    return sum(1 for g in range(model.ngeom)
               if model.geom_bodyid[g] in inside and (model.geom_contype[g] or model.geom_conaffinity[g]))


def is_in_subtree(model: mujoco.MjModel, body: int, root: int) -> bool:
    while body > 0 and body != root:
        body = model.body_parentid[body]
    return body == root


def foot_contact_bodies(path: Path, bodies, model: mujoco.MjModel) -> tuple[str, ...]:
    """The bodies whose subtrees make each foot's floor contacts: `foot_contact_bodies`, else the feet; each must
    hold collision geometry (a sole frame without geoms never touches the floor)."""
    field = "bodies.foot_contact_bodies" if bodies.foot_contact_bodies is not None else "bodies.feet"
    names = tuple(bodies.foot_contact_bodies if bodies.foot_contact_bodies is not None else bodies.feet)
    if len(names) != 2:
        raise AwdError(path, field, f"expected two bodies [left, right], got {list(names)}")
    for name in names:
        body = model.body(name).id
        if colliding_geoms(model, body):
            continue
        ancestors, parent = [], model.body_parentid[body]
        while parent > 0:
            if any(model.geom_bodyid[g] == parent and (model.geom_contype[g] or model.geom_conaffinity[g])
                   for g in range(model.ngeom)):
                ancestors.append(model.body(parent).name)
            parent = model.body_parentid[parent]
        hint = (f"; name the body that carries the foot's collision geometry in bodies.foot_contact_bodies (nearest "
                f"with geoms: {ancestors[0]!r})" if ancestors else "; add a collision geom to the foot in the MJCF")
        raise AwdError(path, field, f"body {name!r} holds no collision geometry (contype/conaffinity) in its subtree, "
                       f"so its floor contacts are never seen{hint}")
    return names

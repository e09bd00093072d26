"""The 3D-truth cases: animated, textured objects built through bpy (see ``scene.py`` for the frame).

Each builder takes the frame count T and fills the current (empty) scene;
motions are keyed at time fractions (0 = first frame, 1 = last) so any T
works. Tags say what a case exercises: ``articulated`` (parented limbs),
``hinge`` (lids, doors), ``out_of_plane`` (a part turning toward or away from
the camera), ``sliding``, ``bending`` (Simple Deform), ``thin`` (plates,
sails, petals), ``round`` (tubes, discs).
"""

from __future__ import annotations

import math

import bpy

from .scene import box, cylinder, deg, key, material, pivot, sphere, torus

RED, ORANGE, YELLOW = (0.8, 0.15, 0.1), (0.9, 0.5, 0.1), (0.9, 0.8, 0.2)
GREEN, TEAL, BLUE = (0.2, 0.6, 0.2), (0.1, 0.55, 0.55), (0.15, 0.3, 0.8)
PURPLE, PINK, WHITE = (0.5, 0.2, 0.6), (0.9, 0.45, 0.6), (0.92, 0.92, 0.9)
GREY, DARK, BROWN = (0.5, 0.5, 0.5), (0.12, 0.12, 0.15), (0.45, 0.28, 0.12)


def _mat(name, a, b, scale=6.0):
    return material(name, a, b, scale)


def _robot_arm(T, *, swivel: bool):
    base_m, arm_m, fore_m = _mat("base", GREY, DARK), _mat("arm", ORANGE, DARK, 5), _mat("fore", BLUE, WHITE, 5)
    cylinder("base", 0.5, 0.12, offset=(0, 0, 0.06), mat=base_m)
    turret = pivot("turret", location=(0, 0, 0.12))
    cylinder("turret_body", 0.16, 0.25, offset=(0, 0, 0.125), mat=base_m, parent=turret)
    shoulder = pivot("shoulder", parent=turret, location=(0, 0, 0.25))
    box("upper_arm", (0.16, 0.16, 0.8), offset=(0, 0, 0.4), mat=arm_m, parent=shoulder)
    elbow = pivot("elbow", parent=shoulder, location=(0, 0, 0.8))
    sphere("elbow_ball", 0.11, mat=base_m, parent=elbow)
    box("forearm", (0.12, 0.12, 0.6), offset=(0, 0, 0.3), mat=fore_m, parent=elbow)
    box("gripper", (0.26, 0.1, 0.08), offset=(0, 0, 0.64), mat=arm_m, parent=elbow)
    if swivel:
        # The shoulder leans right, then the turret swings the arm toward the camera (about the vertical axis).
        shoulder.rotation_euler = deg(0, 35, 0)
        elbow.rotation_euler = deg(0, 60, 0)
        key(turret, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, -80)}, T)
    else:
        key(shoulder, "rotation_euler", {0: deg(0, 25, 0), 1: deg(0, -35, 0)}, T)
        key(elbow, "rotation_euler", {0: deg(0, 30, 0), 1: deg(0, -70, 0)}, T)


def arm_lift(T):
    """Robot arm on a disc base: shoulder and elbow turn in the image plane (about Y)."""
    _robot_arm(T, swivel=False)


def arm_swivel(T):
    """Robot arm leaning right, its turret swinging it 80 degrees toward the camera (about Z)."""
    _robot_arm(T, swivel=True)


def box_lid(T):
    """Chest whose hinged lid (hinge along X at the back) opens 105 degrees."""
    body, lid_m = _mat("chest", BROWN, YELLOW, 4), _mat("lid", RED, YELLOW, 4)
    box("chest", (1.0, 0.7, 0.5), offset=(0, 0, 0.25), mat=body)
    hinge = pivot("hinge", location=(0, 0.35, 0.5))
    box("lid", (1.0, 0.7, 0.06), offset=(0, -0.35, 0.03), mat=lid_m, parent=hinge)
    box("latch", (0.12, 0.04, 0.1), offset=(0, -0.71, -0.02), mat=body, parent=hinge)
    key(hinge, "rotation_euler", {0: deg(0, 0, 0), 1: deg(-105, 0, 0)}, T)


def door(T):
    """Door in a frame swinging 80 degrees toward the camera on a vertical hinge."""
    frame_m, door_m = _mat("frame", DARK, GREY, 3), _mat("door", TEAL, WHITE, 5)
    box("post_l", (0.1, 0.1, 1.7), offset=(-0.45, 0, 0.85), mat=frame_m)
    box("post_r", (0.1, 0.1, 1.7), offset=(0.45, 0, 0.85), mat=frame_m)
    box("lintel", (1.0, 0.1, 0.1), offset=(0, 0, 1.75), mat=frame_m)
    hinge = pivot("hinge", location=(-0.4, 0.0, 0.05))
    box("door", (0.8, 0.05, 1.6), offset=(0.4, 0, 0.8), mat=door_m, parent=hinge)
    sphere("knob", 0.05, offset=(0.7, -0.06, 0.8), mat=frame_m, parent=hinge)
    key(hinge, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, -80)}, T)


def telescope(T):
    """Three nested tubes on a disc base sliding out along Z."""
    base_m, tube_m = _mat("base", GREY, DARK), _mat("tube", PURPLE, WHITE, 5)
    cylinder("base", 0.45, 0.1, offset=(0, 0, 0.05), mat=base_m)
    cylinder("tube1", 0.2, 0.7, offset=(0, 0, 0.45), mat=tube_m)
    t2 = pivot("stage2", location=(0, 0, 0.1))
    cylinder("tube2", 0.16, 0.7, offset=(0, 0, 0.35), mat=tube_m, parent=t2)
    t3 = pivot("stage3", parent=t2, location=(0, 0, 0.0))
    cylinder("tube3", 0.12, 0.7, offset=(0, 0, 0.35), mat=base_m, parent=t3)
    sphere("ball", 0.15, offset=(0, 0, 0.8), mat=tube_m, parent=t3)
    key(t2, "location", {0: (0, 0, 0.12), 1: (0, 0, 0.6)}, T)
    key(t3, "location", {0: (0, 0, 0.02), 1: (0, 0, 0.6)}, T)


def cart(T):
    """Cart sliding 1.2 m along a rail, its two disc wheels rolling (about Y)."""
    rail_m, cart_m, wheel_m = _mat("rail", DARK, GREY, 8), _mat("cart", YELLOW, BLUE, 5), _mat("wheel", RED, WHITE, 4)
    box("rail", (2.2, 0.3, 0.08), offset=(0, 0, 0.04), mat=rail_m)
    body = pivot("body", location=(-0.6, 0, 0.0))
    box("carriage", (0.5, 0.3, 0.25), offset=(0, 0, 0.38), mat=cart_m, parent=body)
    cylinder("post", 0.07, 0.5, offset=(0, 0, 0.75), mat=rail_m, parent=body)
    sphere("lamp", 0.12, offset=(0, 0, 1.05), mat=cart_m, parent=body)
    for name, x in (("wheel_l", -0.18), ("wheel_r", 0.18)):
        hub = pivot(name + "_hub", parent=body, location=(x, -0.17, 0.2))
        cylinder(name, 0.12, 0.05, axis="Y", mat=wheel_m, parent=hub)
        key(hub, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, math.degrees(1.2 / 0.12), 0)}, T)
    key(body, "location", {0: (-0.6, 0, 0.0), 1: (0.6, 0, 0.0)}, T)


def _bender(name, obj, axis, origin, T, angles):
    mod = obj.modifiers.new(name, "SIMPLE_DEFORM")
    mod.deform_method = "BEND"
    mod.deform_axis = axis
    mod.origin = origin
    key(obj, f'modifiers["{name}"].angle', angles, T)


def bend_tube(T):
    """Round tube bent 120 degrees in the image plane by a Simple Deform modifier."""
    base_m, tube_m = _mat("base", GREY, DARK), _mat("tube", GREEN, YELLOW, 6)
    cylinder("base", 0.4, 0.1, offset=(0, 0, 0.05), mat=base_m)
    tube = cylinder("tube", 0.13, 1.5, offset=(0, 0, 0.85), mat=tube_m, cuts=24)
    origin = pivot("bend_origin", location=(0, 0, 0.1))
    _bender("Bend", tube, "Y", origin, T, {0: deg(0)[0], 1: deg(120)[0]})


def bend_bar(T):
    """Square bar bent 100 degrees about an axis turned 45 degrees about Z (toward the camera and aside)."""
    base_m, bar_m = _mat("base", DARK, GREY), _mat("bar", PINK, BLUE, 5)
    box("base", (0.7, 0.7, 0.08), offset=(0, 0, 0.04), mat=base_m)
    bar = box("bar", (0.22, 0.22, 1.4), offset=(0, 0, 0.78), mat=bar_m, cuts=12)
    # Bend about an axis turned 45 degrees about Z: the bar curls toward the camera and to the side.
    origin = pivot("bend_origin", location=(0, 0, 0.08), rotation=deg(0, 0, 45))
    _bender("Bend", bar, "Y", origin, T, {0: deg(0)[0], 1: deg(-100)[0]})


def flower(T):
    """Six thin petals opening from pointing at the camera into the image plane; stem tube, pot frustum."""
    stem_m, petal_m, heart_m = _mat("stem", GREEN, DARK, 8), _mat("petal", PINK, WHITE, 3), _mat("heart", YELLOW, ORANGE, 8)
    cylinder("stem", 0.05, 1.0, offset=(0, 0, 0.5), mat=stem_m)
    cylinder("pot", 0.25, 0.3, offset=(0, 0, 0.0), radius_top=0.3, mat=_mat("pot", BROWN, RED, 4))
    head = pivot("head", location=(0, 0, 1.15))
    sphere("heart", 0.13, mat=heart_m, parent=head, squash=(1, 0.6, 1))
    for i in range(6):
        spoke = pivot(f"spoke{i}", parent=head, rotation=deg(0, 60 * i, 0))
        hinge = pivot(f"hinge{i}", parent=spoke, location=(0.1, 0, 0))
        box(f"petal{i}", (0.4, 0.02, 0.16), offset=(0.2, 0, 0), mat=petal_m, parent=hinge)
        # Closed: petals point at the camera (-Y); open: they lie in the image plane.
        key(hinge, "rotation_euler", {0: deg(0, 0, -75), 1: deg(0, 0, -5)}, T)


def sailboat(T):
    """Thin sail swinging 70 degrees about the mast (out of plane) while the hull rocks in the plane."""
    hull_m, sail_m, mast_m = _mat("hull", BLUE, WHITE, 5), _mat("sail", WHITE, RED, 4), _mat("mast", BROWN, DARK, 8)
    boat = pivot("boat")
    box("hull", (1.4, 0.4, 0.25), offset=(0, 0, 0.125), mat=hull_m, parent=boat)
    box("bow", (0.3, 0.3, 0.2), offset=(0.75, 0, 0.15), mat=hull_m, parent=boat, rotation=deg(0, 0, 45))
    cylinder("mast", 0.035, 1.4, offset=(0, 0, 0.95), mat=mast_m, parent=boat)
    boom = pivot("boom", parent=boat, location=(0, 0, 0.35))
    box("sail", (0.8, 0.02, 1.1), offset=(-0.42, 0, 0.6), mat=sail_m, parent=boom)
    key(boom, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, 70)}, T)
    key(boat, "rotation_euler", {0: deg(0, -6, 0), 0.5: deg(0, 6, 0), 1: deg(0, -4, 0)}, T)


def lamp(T):
    """Desk lamp: two arms turning in the plane, the shade also tilting out of it."""
    base_m, arm_m, head_m = _mat("base", DARK, GREY), _mat("arm", RED, WHITE, 6), _mat("head", YELLOW, DARK, 4)
    cylinder("base", 0.35, 0.06, offset=(0, 0, 0.03), mat=base_m)
    j1 = pivot("j1", location=(0, 0, 0.06))
    cylinder("arm1", 0.035, 0.7, offset=(0, 0, 0.35), mat=arm_m, parent=j1)
    j2 = pivot("j2", parent=j1, location=(0, 0, 0.7))
    sphere("knuckle", 0.06, mat=base_m, parent=j2)
    cylinder("arm2", 0.035, 0.6, offset=(0, 0, 0.3), mat=arm_m, parent=j2)
    j3 = pivot("j3", parent=j2, location=(0, 0, 0.6))
    cylinder("shade", 0.08, 0.3, offset=(0, 0, 0.15), radius_top=0.2, mat=head_m, parent=j3)
    key(j1, "rotation_euler", {0: deg(0, -20, 0), 1: deg(0, 25, 0)}, T)
    key(j2, "rotation_euler", {0: deg(0, 100, 0), 1: deg(0, 40, 0)}, T)
    key(j3, "rotation_euler", {0: deg(0, 60, 0), 1: deg(-50, 90, 0)}, T)


def windmill(T):
    """Four thin blades turning 70 degrees in the plane while the head yaws 35 degrees."""
    tower_m, blade_m = _mat("tower", WHITE, GREY, 6), _mat("blade", ORANGE, WHITE, 4)
    cylinder("tower", 0.25, 1.4, offset=(0, 0, 0.7), radius_top=0.12, mat=tower_m)
    yaw = pivot("yaw", location=(0, 0, 1.45))
    box("nacelle", (0.2, 0.35, 0.2), offset=(0, 0.05, 0), mat=tower_m, parent=yaw)
    rotor = pivot("rotor", parent=yaw, location=(0, -0.18, 0))
    cylinder("hub", 0.08, 0.1, axis="Y", mat=blade_m, parent=rotor)
    for i in range(4):
        box(f"blade{i}", (0.65, 0.02, 0.14), offset=(0.4, 0, 0), mat=blade_m, parent=rotor,
            rotation=deg(0, 90 * i, 0))
    key(rotor, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 70, 0)}, T)
    key(yaw, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, 35)}, T)


def figure(T):
    """Figure raising both arms (in plane), stepping toward the camera (hip/knee about X), turning its head."""
    body_m, limb_m, head_m = _mat("body", BLUE, WHITE, 5), _mat("limb", ORANGE, DARK, 6), _mat("head", PINK, YELLOW, 6)
    box("torso", (0.45, 0.25, 0.6), offset=(0, 0, 1.1), mat=body_m)
    neck = pivot("neck", location=(0, 0, 1.42))
    sphere("head", 0.16, offset=(0, 0, 0.14), mat=head_m, parent=neck)
    box("nose", (0.06, 0.08, 0.06), offset=(0, -0.16, 0.14), mat=limb_m, parent=neck)
    key(neck, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, 40)}, T)
    for side, x in (("l", -1), ("r", 1)):
        sh = pivot(f"shoulder_{side}", location=(0.28 * x, 0, 1.35))
        cylinder(f"upper_{side}", 0.06, 0.4, offset=(0, 0, -0.2), mat=limb_m, parent=sh)
        el = pivot(f"elbow_{side}", parent=sh, location=(0, 0, -0.4))
        cylinder(f"lower_{side}", 0.05, 0.38, offset=(0, 0, -0.19), mat=limb_m, parent=el)
        key(sh, "rotation_euler", {0: deg(0, -10 * x, 0), 1: deg(0, -120 * x, 0)}, T)
        key(el, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, -30 * x, 0)}, T)
        hip = pivot(f"hip_{side}", location=(0.12 * x, 0, 0.8))
        cylinder(f"thigh_{side}", 0.08, 0.42, offset=(0, 0, -0.21), mat=body_m, parent=hip)
        knee = pivot(f"knee_{side}", parent=hip, location=(0, 0, -0.42))
        cylinder(f"shin_{side}", 0.065, 0.38, offset=(0, 0, -0.19), mat=body_m, parent=knee)
        if side == "r":  # a step toward the camera: out of the image plane
            key(hip, "rotation_euler", {0: deg(0, 0, 0), 1: deg(-60, 0, 0)}, T)
            key(knee, "rotation_euler", {0: deg(0, 0, 0), 1: deg(70, 0, 0)}, T)


def ring_turn(T):
    """A torus with a disc inside turning 65 degrees about the vertical axis."""
    ring_m, disc_m, stand_m = _mat("ring", YELLOW, RED, 8), _mat("disc", TEAL, WHITE, 4), _mat("stand", DARK, GREY)
    cylinder("stand_base", 0.35, 0.08, offset=(0, 0, 0.04), mat=stand_m)
    cylinder("stand", 0.04, 0.35, offset=(0, 0, 0.25), mat=stand_m)
    turn = pivot("turn", location=(0, 0, 0.85))
    torus("ring", 0.4, 0.07, mat=ring_m, parent=turn, axis="Y")
    cylinder("disc", 0.3, 0.04, axis="Y", mat=disc_m, parent=turn)
    key(turn, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, 65)}, T)


def crane(T):
    """A jib crane: the tower turns about the vertical axis while the hook slides out along the jib."""
    tower_m, jib_m, hook_m = _mat("tower", YELLOW, DARK, 8), _mat("jib", ORANGE, DARK, 10), _mat("hook", GREY, RED, 4)
    cylinder("base", 0.4, 0.1, offset=(0, 0, 0.05), mat=tower_m)
    box("mast", (0.14, 0.14, 1.3), offset=(0, 0, 0.75), mat=tower_m)
    slew = pivot("slew", location=(0, 0, 1.4))
    box("jib", (1.3, 0.1, 0.1), offset=(0.45, 0, 0.05), mat=jib_m, parent=slew)
    box("counterweight", (0.25, 0.2, 0.2), offset=(-0.3, 0, 0.0), mat=hook_m, parent=slew)
    trolley = pivot("trolley", parent=slew, location=(0.3, 0, 0))
    cylinder("cable", 0.012, 0.5, offset=(0, 0, -0.25), mat=hook_m, parent=trolley)
    box("hook", (0.12, 0.12, 0.12), offset=(0, 0, -0.55), mat=hook_m, parent=trolley)
    key(trolley, "location", {0: (0.3, 0, 0), 1: (0.95, 0, 0)}, T)
    key(slew, "rotation_euler", {0: deg(0, 0, 0), 1: deg(0, 0, -45)}, T)


CASES = {
    "arm_lift": (arm_lift, "robot arm lifting in the image plane", ("articulated", "round")),
    "arm_swivel": (arm_swivel, "robot arm swivelling about the vertical axis toward the camera",
                   ("articulated", "out_of_plane", "round")),
    "box_lid": (box_lid, "chest whose hinged lid opens upward", ("hinge", "out_of_plane", "thin")),
    "door": (door, "door swinging toward the camera on a vertical hinge", ("hinge", "out_of_plane", "thin")),
    "telescope": (telescope, "telescoping tubes sliding out of each other", ("sliding", "round")),
    "cart": (cart, "cart sliding along a rail on rolling wheels", ("sliding", "round")),
    "bend_tube": (bend_tube, "a tube bending in the image plane", ("bending", "round")),
    "bend_bar": (bend_bar, "a square bar bending toward the camera at 45 degrees", ("bending", "out_of_plane")),
    "flower": (flower, "six petals opening from toward the camera into the image plane",
               ("thin", "out_of_plane", "round")),
    "sailboat": (sailboat, "sail swinging about the mast while the hull rocks", ("thin", "out_of_plane", "hinge")),
    "lamp": (lamp, "desk lamp: two arms and a shade that also turns", ("articulated", "round", "out_of_plane")),
    "windmill": (windmill, "blades turning in the plane while the head yaws", ("thin", "out_of_plane")),
    "figure": (figure, "figure raising both arms, stepping toward the camera, turning its head",
               ("articulated", "out_of_plane", "round")),
    "ring_turn": (ring_turn, "a ring and a disc turning about the vertical axis", ("round", "out_of_plane", "thin")),
    "crane": (crane, "crane slewing about its mast while the hook slides out", ("sliding", "out_of_plane")),
}


def build_case(name: str, frames: int) -> None:
    """Fill the current scene with case ``name`` (see ``CASES``).

    Raises:
        KeyError: unknown case (the message lists the names).
    """
    if name not in CASES:
        raise KeyError(f"unknown case {name!r}; known: {', '.join(CASES)}")
    CASES[name][0](frames)
    bpy.context.view_layer.update()

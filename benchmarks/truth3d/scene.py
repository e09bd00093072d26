"""bpy helpers for the 3D-truth cases: textured parts, pivots, keyframes, evaluated meshes, renders.

Runs only inside a process that imports ``bpy`` (Blender as a Python module);
the scorer never imports this. World frame = Blender's (+Z up, metres); the
input camera looks along +Y, so the image plane is world XZ: a rotation
about Y turns a part in the image plane, a rotation about X or Z turns it
out of it.
"""

from __future__ import annotations

import math

import bmesh
import bpy
import numpy as np
from mathutils import Matrix


def reset_scene(frames: int) -> bpy.types.Scene:
    """An empty factory scene with frames 1..``frames``."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames
    return scene


def _set_input(node, name: str, value, kind: str | None = None) -> None:
    for sock in node.inputs:
        if sock.name == name and (kind is None or sock.type == kind):
            sock.default_value = value
            return
    raise KeyError(f"{node.bl_idname} has no input {name!r}")


def _output(node, name: str, kind: str | None = None):
    for sock in node.outputs:
        if sock.name == name and (kind is None or sock.type == kind):
            return sock
    raise KeyError(f"{node.bl_idname} has no output {name!r}")


def _input(node, name: str, kind: str | None = None):
    for sock in node.inputs:
        if sock.name == name and (kind is None or sock.type == kind):
            return sock
    raise KeyError(f"{node.bl_idname} has no input {name!r}")


def material(name: str, color_a, color_b, scale: float = 6.0, noise_scale: float = 12.0) -> bpy.types.Material:
    """A procedural texture that sticks to the surface: a checker on the undeformed (Generated)
    coordinates multiplied by a noise, so features and optical flow have something to follow."""
    mat = bpy.data.materials.new(name)
    if hasattr(mat, "use_nodes") and not mat.use_nodes:
        mat.use_nodes = True
    nt = mat.node_tree
    bsdf = next(n for n in nt.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    coord = nt.nodes.new("ShaderNodeTexCoord")
    checker = nt.nodes.new("ShaderNodeTexChecker")
    noise = nt.nodes.new("ShaderNodeTexNoise")
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.blend_type = "MULTIPLY"
    _set_input(checker, "Color1", (*color_a, 1.0))
    _set_input(checker, "Color2", (*color_b, 1.0))
    _set_input(checker, "Scale", scale)
    _set_input(noise, "Scale", noise_scale)
    _set_input(mix, "Factor", 0.45, "VALUE")
    nt.links.new(_output(coord, "Generated"), _input(checker, "Vector"))
    nt.links.new(_output(coord, "Generated"), _input(noise, "Vector"))
    nt.links.new(_output(checker, "Color"), _input(mix, "A", "RGBA"))
    nt.links.new(_output(noise, "Color"), _input(mix, "B", "RGBA"))
    nt.links.new(_output(mix, "Result", "RGBA"), _input(bsdf, "Base Color"))
    _set_input(bsdf, "Roughness", 0.6)
    return mat


def _finish(bm: bmesh.types.BMesh, name: str, mat, parent, location, rotation) -> bpy.types.Object:
    me = bpy.data.meshes.new(name)
    bm.to_mesh(me)
    bm.free()
    if mat is not None:
        me.materials.append(mat)
    obj = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = parent
    obj.location = location
    obj.rotation_euler = rotation
    return obj


def _shift(bm, dims=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0), axis: str = "Z") -> None:
    """Scale the unit primitive, turn its Z axis to ``axis``, then move it by ``offset`` (object-local)."""
    bmesh.ops.scale(bm, vec=dims, verts=bm.verts)
    if axis == "X":
        bmesh.ops.rotate(bm, cent=(0, 0, 0), matrix=Matrix.Rotation(math.pi / 2, 3, "Y"), verts=bm.verts)
    elif axis == "Y":
        bmesh.ops.rotate(bm, cent=(0, 0, 0), matrix=Matrix.Rotation(-math.pi / 2, 3, "X"), verts=bm.verts)
    bmesh.ops.translate(bm, vec=offset, verts=bm.verts)


def box(name, dims, offset=(0, 0, 0), mat=None, parent=None, location=(0, 0, 0), rotation=(0, 0, 0), cuts=0):
    """A box of size ``dims`` (x, y, z metres) centred at ``offset`` from the object origin (the pivot);
    ``cuts`` subdivides every edge (for bending)."""
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=1.0, calc_uvs=True)
    if cuts:
        bmesh.ops.subdivide_edges(bm, edges=bm.edges[:], cuts=cuts, use_grid_fill=True)
    _shift(bm, dims, offset)
    return _finish(bm, name, mat, parent, location, rotation)


def cylinder(name, radius, length, offset=(0, 0, 0), axis="Z", mat=None, parent=None, location=(0, 0, 0),
             rotation=(0, 0, 0), radius_top=None, segments=24, cuts=0):
    """A closed cylinder (or cone frustum with ``radius_top``) along ``axis``, centred at ``offset``;
    ``cuts`` splits its length into cuts + 1 rings (for bending)."""
    bm = bmesh.new()
    bmesh.ops.create_cone(bm, cap_ends=True, cap_tris=False, segments=segments, radius1=radius,
                          radius2=radius if radius_top is None else radius_top, depth=length, calc_uvs=True)
    if cuts:
        side = [e for e in bm.edges if abs(e.verts[0].co.z - e.verts[1].co.z) > 0.5 * length]
        bmesh.ops.subdivide_edges(bm, edges=side, cuts=cuts, use_grid_fill=False)
    _shift(bm, (1, 1, 1), (0, 0, 0), axis)
    bmesh.ops.translate(bm, vec=offset, verts=bm.verts)
    return _finish(bm, name, mat, parent, location, rotation)


def sphere(name, radius, offset=(0, 0, 0), mat=None, parent=None, location=(0, 0, 0), rotation=(0, 0, 0),
           squash=(1.0, 1.0, 1.0)):
    """A UV sphere (optionally an ellipsoid via ``squash``) centred at ``offset``."""
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=radius, calc_uvs=True)
    _shift(bm, squash, offset)
    return _finish(bm, name, mat, parent, location, rotation)


def torus(name, major, minor, mat=None, parent=None, location=(0, 0, 0), rotation=(0, 0, 0), axis="Y",
          segments=32, ring=12):
    """A torus around ``axis`` (major radius ``major``, tube radius ``minor``)."""
    bm = bmesh.new()
    verts = []
    for i in range(segments):
        a = 2 * math.pi * i / segments
        for j in range(ring):
            b = 2 * math.pi * j / ring
            r = major + minor * math.cos(b)
            verts.append(bm.verts.new((r * math.cos(a), r * math.sin(a), minor * math.sin(b))))
    for i in range(segments):
        for j in range(ring):
            a, b = i * ring + j, ((i + 1) % segments) * ring + j
            c, d = ((i + 1) % segments) * ring + (j + 1) % ring, i * ring + (j + 1) % ring
            bm.faces.new((verts[a], verts[b], verts[c], verts[d]))
    _shift(bm, (1, 1, 1), (0, 0, 0), axis)
    return _finish(bm, name, mat, parent, location, rotation)


def pivot(name, parent=None, location=(0, 0, 0), rotation=(0, 0, 0)) -> bpy.types.Object:
    """An empty used as a joint: children placed in its local frame turn about its origin."""
    obj = bpy.data.objects.new(name, None)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = parent
    obj.location = location
    obj.rotation_euler = rotation
    return obj


def key(obj, data_path: str, values: dict, frames: int) -> None:
    """Keyframe ``obj.<data_path>`` at time fractions: ``values`` maps fraction 0..1 -> value
    (frame 1 + round(fraction * (frames - 1)); Blender's default eased Bezier in between)."""
    for frac, value in values.items():
        frame = 1 + int(round(frac * (frames - 1)))
        if data_path.startswith("modifiers["):
            mod_name, prop = data_path.split('"')[1], data_path.rsplit(".", 1)[1]
            setattr(obj.modifiers[mod_name], prop, value)
        else:
            setattr(obj, data_path, value)
        obj.keyframe_insert(data_path=data_path, frame=frame)


def deg(*angles) -> tuple:
    """Degrees -> radians tuple (for Euler keyframes)."""
    return tuple(math.radians(a) for a in angles)


def evaluated_mesh(scene: bpy.types.Scene, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """All mesh objects of the scene, evaluated (modifiers, parents, keyframes) at frames 1..``frames``.

    Returns:
        (vertices float32 [T, V, 3] world metres, faces int32 [F, 3] triangles).

    Raises:
        RuntimeError: the topology changes over time.
    """
    objs = sorted((o for o in scene.objects if o.type == "MESH"), key=lambda o: o.name)
    verts_t, faces = [], None
    for i in range(frames):
        scene.frame_set(1 + i)
        dg = bpy.context.evaluated_depsgraph_get()
        vs, fs, base = [], [], 0
        for obj in objs:
            eo = obj.evaluated_get(dg)
            me = eo.to_mesh()
            me.calc_loop_triangles()
            co = np.empty(len(me.vertices) * 3, np.float64)
            me.vertices.foreach_get("co", co)
            tri = np.empty(len(me.loop_triangles) * 3, np.int64)
            me.loop_triangles.foreach_get("vertices", tri)
            m = np.array(eo.matrix_world, np.float64)
            co = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
            vs.append(co)
            fs.append(tri.reshape(-1, 3) + base)
            base += len(co)
            eo.to_mesh_clear()
        f = np.concatenate(fs)
        if faces is None:
            faces = f
        elif f.shape != faces.shape or not np.array_equal(f, faces):
            raise RuntimeError("the mesh topology changed between frames; use modifiers that keep it")
        verts_t.append(np.concatenate(vs))
    return np.stack(verts_t).astype(np.float32), faces.astype(np.int32)


def setup_render(scene: bpy.types.Scene, size: int, samples: int, threads: int = 2) -> None:
    """Cycles on the CPU, ``samples`` samples, no denoiser, RGBA PNG with a transparent film,
    a grey world light and a sun, the Standard view transform (colours as authored)."""
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 3
    scene.render.film_transparent = True
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.threads_mode = "FIXED"
    scene.render.threads = threads
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    world = bpy.data.worlds.new("World")
    world.color = (0.6, 0.6, 0.6)
    if hasattr(world, "use_nodes") and not world.use_nodes:
        world.use_nodes = True
    bg = next((n for n in world.node_tree.nodes if n.bl_idname == "ShaderNodeBackground"), None)
    if bg is not None:
        _set_input(bg, "Color", (0.75, 0.75, 0.75, 1.0))
        _set_input(bg, "Strength", 0.9)
    scene.world = world
    sun = bpy.data.lights.new("Sun", "SUN")
    sun.energy = 3.0
    sun_obj = bpy.data.objects.new("Sun", sun)
    sun_obj.rotation_euler = deg(50, 10, -30)
    scene.collection.objects.link(sun_obj)


def render_still(scene: bpy.types.Scene, matrix_world: np.ndarray, focal_mm: float, sensor_mm: float,
                 frame: int, path: str) -> None:
    """Render Blender frame ``frame`` through a camera at ``matrix_world`` (float [4, 4]) to ``path``."""
    cam_data = bpy.data.cameras.get("InputCamera") or bpy.data.cameras.new("InputCamera")
    cam_data.lens = focal_mm
    cam_data.sensor_width = sensor_mm
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_start, cam_data.clip_end = 0.01, 1000.0
    cam = bpy.data.objects.get("InputCamera") or bpy.data.objects.new("InputCamera", cam_data)
    if cam.name not in scene.collection.objects:
        scene.collection.objects.link(cam)
    cam.matrix_world = Matrix(np.asarray(matrix_world, np.float64).tolist())
    scene.camera = cam
    scene.frame_set(frame)
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)

"""Read the splat instances the importer's Geometry Nodes modifier produces, on Blender 4.2 to 5.x.

``Object.evaluated_geometry()`` (the direct way to read instance attributes) exists only from
Blender 4.5. On older releases the instance transforms come from the depsgraph's
``object_instances``, and instance attributes (the splat colour ``Col``) from a copy of the
evaluated object with its instances realised (Realize Instances copies instance-domain
attributes onto every vertex of each instance, in instance order).
"""

from __future__ import annotations

import bpy
import numpy as np

HAS_EVALUATED_GEOMETRY = bpy.app.version >= (4, 5, 0)


def instance_transforms(obj, scene, frame: int) -> np.ndarray:
    """[M, 4, 4] float32 object-space transforms of ``obj``'s splat instances at ``frame``, in point order."""
    scene.frame_set(frame)
    dg = bpy.context.evaluated_depsgraph_get()
    if HAS_EVALUATED_GEOMETRY:
        geometry = obj.evaluated_get(dg).evaluated_geometry()  # keep it referenced: the cloud lives in it
        pc = geometry.instances_pointcloud()
        m = np.empty(len(pc.points) * 16, np.float32)
        pc.attributes["instance_transform"].data.foreach_get("value", m)
        return np.transpose(m.reshape(-1, 4, 4), (0, 2, 1))  # stored column-major
    # Blender 4.2-4.4: persistent_id[0] is the instance index.
    world_to_obj = np.linalg.inv(np.array(obj.matrix_world, dtype=np.float64))
    found = sorted(((tuple(inst.persistent_id), np.array(inst.matrix_world, dtype=np.float64))
                    for inst in dg.object_instances if inst.is_instance and inst.parent.original == obj),
                   key=lambda item: item[0])
    return np.array([world_to_obj @ mat for _, mat in found], dtype=np.float32).reshape(-1, 4, 4)


def instance_positions(obj, scene, frame: int) -> np.ndarray:
    """[M, 3] float32 object-space positions of ``obj``'s splat instances at ``frame``."""
    return instance_transforms(obj, scene, frame)[:, :3, 3]


def instance_colors(obj, attribute: str = "Col") -> np.ndarray:
    """(M, [M, 4] float32 RGBA) of the instances' FLOAT_COLOR ``attribute`` at the current frame."""
    dg = bpy.context.evaluated_depsgraph_get()
    if HAS_EVALUATED_GEOMETRY:
        geometry = obj.evaluated_get(dg).evaluated_geometry()
        cloud = geometry.instances_pointcloud()
        col = cloud.attributes[attribute]
        rgba = np.empty(len(col.data) * 4, np.float32)
        col.data.foreach_get("color", rgba)
        return len(cloud.points), rgba.reshape(-1, 4)
    count = sum(1 for inst in dg.object_instances if inst.is_instance and inst.parent.original == obj)
    return count, _realized_colors(obj, attribute, count)


def _realized_colors(obj, attribute: str, count: int) -> np.ndarray:
    """[count, 4] colours read from a temporary Realize Instances modifier appended to ``obj``."""
    tree = bpy.data.node_groups.new("tween4d-test-realize", "GeometryNodeTree")
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = tree.nodes.new("NodeGroupInput"), tree.nodes.new("NodeGroupOutput")
    realize = tree.nodes.new("GeometryNodeRealizeInstances")
    tree.links.new(gin.outputs[0], realize.inputs[0])
    tree.links.new(realize.outputs[0], gout.inputs[0])
    mod = obj.modifiers.new("tween4d-test-realize", "NODES")
    mod.node_group = tree
    try:
        evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = evaluated.to_mesh()
        try:
            col = mesh.attributes[attribute]
            rgba = np.empty(len(col.data) * 4, np.float32)
            col.data.foreach_get("color", rgba)
            rgba = rgba.reshape(-1, 4)
        finally:
            evaluated.to_mesh_clear()
    finally:
        obj.modifiers.remove(mod)
        bpy.data.node_groups.remove(tree)
    if count == 0:
        return rgba[:0]
    if len(rgba) % count:
        raise AssertionError(f"{len(rgba)} realised vertices do not split into {count} instances")
    return rgba[:: len(rgba) // count]  # every vertex of an instance carries the instance's colour

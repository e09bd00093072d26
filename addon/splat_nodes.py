"""Geometry Nodes and materials that show Gaussians as small oriented ellipsoids.

The points object is a vertex-only mesh whose vertices are the Gaussian means
and whose point attributes carry the rest of each Gaussian (see
``addon.importer``):

* ``Col``       FLOAT_COLOR, scene-linear RGB + opacity in alpha
* ``opacity``   FLOAT, 0..1
* ``scale``     FLOAT_VECTOR, standard deviations in metres (local axes)
* ``rotation``  QUATERNION (w, x, y, z), local-to-world rotation
* ``filled``    INT8, one-image assets only: 1 = filled in behind what the
  image shows (asset-format.md); the group can hide or tint these

The node group instances a low-poly ico-sphere on every point, rotated by
``rotation`` and scaled by ``scale`` times a sigma multiplier, and drops points
under an opacity threshold. Instance on Points copies the point attributes onto
the instances, so the material reads ``Col`` with an Attribute node of type
INSTANCER, which Eevee and Cycles both support (Blender manual, "Attribute
Node"). 3DGS colours are baked radiance, so the material is emissive (unlit):
through the input camera the splats show the input image's colours whatever
the scene lighting.

Node and socket lookups go by socket name and availability, not by index or
identifier, because those differ between Blender 4.2 and 5.0 (e.g. the Named
Attribute node has one output per data type in 4.2 and one dynamic output in
5.0).
"""

from __future__ import annotations

import bpy

GROUP_PREFIX = "Tween4D Splats"

# Socket names of the group's inputs (the modifier panel shows these).
SIGMA_SCALE = "Sigma Scale"
MIN_OPACITY = "Min Opacity"
SUBDIVISIONS = "Subdivisions"
MATERIAL = "Material"
SHOW_FILLED = "Show Filled"
FILLED_TINT = "Filled Tint"
TINT_COLOR = (1.0, 0.05, 0.6, 1.0)  # magenta: reads as "not from the image" on most pictures

COLOR_ATTR = "Col"
OPACITY_ATTR = "opacity"
SCALE_ATTR = "scale"
ROTATION_ATTR = "rotation"
FILLED_ATTR = "filled"


def _socket(sockets, name: str):
    """First available socket called ``name`` (availability differs per version)."""
    for s in sockets:
        if s.name == name and getattr(s, "enabled", True):
            return s
    raise KeyError(f"node socket {name!r} not found among {[s.name for s in sockets]}")


def _named_attribute(tree, name: str, data_type: str, location):
    node = tree.nodes.new("GeometryNodeInputNamedAttribute")
    node.data_type = data_type
    node.inputs["Name"].default_value = name
    node.location = location
    return _socket(node.outputs, "Attribute")


def _new_input(tree, name: str, socket_type: str, default=None, min_value=None, max_value=None, description=""):
    sock = tree.interface.new_socket(name, in_out="INPUT", socket_type=socket_type, description=description)
    if default is not None:
        sock.default_value = default
    if min_value is not None:
        sock.min_value = min_value
    if max_value is not None:
        sock.max_value = max_value
    return sock


def build_splat_node_group(name: str, material: bpy.types.Material | None) -> bpy.types.GeometryNodeTree:
    """Create the Geometry Nodes group that displays Gaussians as ellipsoids.

    Group inputs: Geometry (the points mesh), Sigma Scale (float, the ellipsoid
    radius in standard deviations, default 1.5), Min Opacity (float, points
    below are hidden, default 0.05), Subdivisions (int, ico-sphere level 1..3,
    default 1 = 20 faces per splat), Material, Show Filled (bool, default on:
    off hides the Gaussians whose ``filled`` attribute is 1), Filled Tint
    (float 0..1, default 0: how far those Gaussians' colour is pulled toward
    magenta). Output: instances.

    Args:
        name: the node group's name.
        material: the splat material (``build_splat_material``), set as the
            Material input's default.

    Returns:
        A new ``GeometryNodeTree``.
    """
    tree = bpy.data.node_groups.new(name, "GeometryNodeTree")
    if hasattr(tree, "is_modifier"):
        tree.is_modifier = True
    tree.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    _new_input(tree, SIGMA_SCALE, "NodeSocketFloat", 1.5, 0.0, 10.0, "Ellipsoid radius in Gaussian standard deviations")
    _new_input(tree, MIN_OPACITY, "NodeSocketFloat", 0.05, 0.0, 1.0, "Hide Gaussians less opaque than this")
    _new_input(tree, SUBDIVISIONS, "NodeSocketInt", 1, 1, 3, "Ico-sphere subdivisions of each splat")
    mat_sock = _new_input(tree, MATERIAL, "NodeSocketMaterial", description="Material of the splats")
    if material is not None:
        mat_sock.default_value = material
    _new_input(tree, SHOW_FILLED, "NodeSocketBool", True,
               description="Show the Gaussians filled in behind what the image shows (one-image assets)")
    _new_input(tree, FILLED_TINT, "NodeSocketFloat", 0.0, 0.0, 1.0,
               description="Tint the filled-in Gaussians magenta by this much")
    tree.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")

    nodes, links = tree.nodes, tree.links
    gin = nodes.new("NodeGroupInput")
    gin.location = (-900, 0)
    gout = nodes.new("NodeGroupOutput")
    gout.location = (500, 0)

    # Drop nearly transparent Gaussians: they cost instances and show as dark specks.
    compare = nodes.new("FunctionNodeCompare")
    compare.data_type = "FLOAT"
    compare.operation = "LESS_THAN"
    compare.location = (-600, 200)
    links.new(_named_attribute(tree, OPACITY_ATTR, "FLOAT", (-800, 250)), _socket(compare.inputs, "A"))
    links.new(_socket(gin.outputs, MIN_OPACITY), _socket(compare.inputs, "B"))
    # ... and the filled-in ones when Show Filled is off (a missing attribute reads as 0).
    filled = _named_attribute(tree, FILLED_ATTR, "FLOAT", (-800, 450))
    is_filled = nodes.new("FunctionNodeCompare")
    is_filled.data_type = "FLOAT"
    is_filled.operation = "GREATER_THAN"
    is_filled.location = (-600, 450)
    links.new(filled, _socket(is_filled.inputs, "A"))
    _socket(is_filled.inputs, "B").default_value = 0.5
    hide = nodes.new("FunctionNodeBooleanMath")
    hide.operation = "NIMPLY"  # filled and not Show Filled
    hide.location = (-450, 400)
    links.new(_socket(is_filled.outputs, "Result"), hide.inputs[0])
    links.new(_socket(gin.outputs, SHOW_FILLED), hide.inputs[1])
    drop = nodes.new("FunctionNodeBooleanMath")
    drop.operation = "OR"
    drop.location = (-450, 250)
    links.new(_socket(compare.outputs, "Result"), drop.inputs[0])
    links.new(hide.outputs[0], drop.inputs[1])
    delete = nodes.new("GeometryNodeDeleteGeometry")
    delete.domain = "POINT"
    delete.location = (-300, 100)
    links.new(_socket(gin.outputs, "Geometry"), delete.inputs["Geometry"])
    links.new(drop.outputs[0], delete.inputs["Selection"])

    # Tint: Col <- mix(Col, TINT_COLOR, filled * Filled Tint), before the instances copy it.
    factor = nodes.new("ShaderNodeMath")
    factor.operation = "MULTIPLY"
    factor.location = (-450, 600)
    links.new(filled, factor.inputs[0])
    links.new(_socket(gin.outputs, FILLED_TINT), factor.inputs[1])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.location = (-300, 600)
    links.new(factor.outputs[0], _socket(mix.inputs, "Factor"))
    links.new(_named_attribute(tree, COLOR_ATTR, "FLOAT_COLOR", (-650, 650)), _socket(mix.inputs, "A"))
    _socket(mix.inputs, "B").default_value = TINT_COLOR
    store = nodes.new("GeometryNodeStoreNamedAttribute")
    store.data_type = "FLOAT_COLOR"
    store.domain = "POINT"
    store.location = (-150, 250)
    store.inputs["Name"].default_value = COLOR_ATTR
    links.new(_socket(delete.outputs, "Geometry"), store.inputs["Geometry"])
    links.new(_socket(mix.outputs, "Result"), _socket(store.inputs, "Value"))

    sphere = nodes.new("GeometryNodeMeshIcoSphere")
    sphere.location = (-600, -150)
    sphere.inputs["Radius"].default_value = 1.0
    links.new(_socket(gin.outputs, SUBDIVISIONS), sphere.inputs["Subdivisions"])
    set_mat = nodes.new("GeometryNodeSetMaterial")
    set_mat.location = (-400, -150)
    links.new(_socket(sphere.outputs, "Mesh"), set_mat.inputs["Geometry"])
    links.new(_socket(gin.outputs, MATERIAL), set_mat.inputs["Material"])

    scale = nodes.new("ShaderNodeVectorMath")
    scale.operation = "SCALE"
    scale.location = (-400, -350)
    links.new(_named_attribute(tree, SCALE_ATTR, "FLOAT_VECTOR", (-650, -350)), scale.inputs[0])
    links.new(_socket(gin.outputs, SIGMA_SCALE), _socket(scale.inputs, "Scale"))

    inst = nodes.new("GeometryNodeInstanceOnPoints")
    inst.location = (0, 0)
    links.new(_socket(store.outputs, "Geometry"), inst.inputs["Points"])
    links.new(_socket(set_mat.outputs, "Geometry"), inst.inputs["Instance"])
    links.new(_named_attribute(tree, ROTATION_ATTR, "QUATERNION", (-250, -250)), inst.inputs["Rotation"])
    links.new(_socket(scale.outputs, "Vector"), inst.inputs["Scale"])
    links.new(_socket(inst.outputs, "Instances"), _socket(gout.inputs, "Geometry"))
    return tree


def set_group_input(modifier, name: str, value) -> None:
    """Set the Geometry Nodes modifier's group input called ``name`` (e.g. SHOW_FILLED) to ``value``.

    Raises:
        KeyError: the modifier's node group has no such input.
    """
    for item in modifier.node_group.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name == name:
            modifier[item.identifier] = value
            modifier.id_data.update_tag()
            return
    raise KeyError(f"node group {modifier.node_group.name!r} has no input {name!r}")


def get_group_input(modifier, name: str):
    """The modifier's value of the group input called ``name`` (its default when unset)."""
    for item in modifier.node_group.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name == name:
            return modifier.get(item.identifier, item.default_value)
    raise KeyError(f"node group {modifier.node_group.name!r} has no input {name!r}")


def _attribute_node(tree, name: str, attribute_type: str, location):
    node = tree.nodes.new("ShaderNodeAttribute")
    node.attribute_type = attribute_type
    node.attribute_name = name
    node.location = location
    return node


def _material_output(tree):
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    out.location = (400, 0)
    return out


def _set_alpha_method(mat: bpy.types.Material) -> None:
    # Eevee Next (4.2+) uses surface_render_method; older Eevee used blend_method.
    if hasattr(mat, "surface_render_method"):
        mat.surface_render_method = "DITHERED"
    elif hasattr(mat, "blend_method"):
        mat.blend_method = "HASHED"


def _new_node_material(name: str):
    """A new material with an empty node tree: (material, node tree)."""
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # Blender < 5.0 makes node trees only on request
        mat.use_nodes = True
    mat.node_tree.nodes.clear()
    return mat, mat.node_tree


def build_splat_material(name: str) -> bpy.types.Material:
    """Create the emissive splat material reading ``Col`` and ``opacity``.

    Emission (strength 1) of the instancer's ``Col`` mixed with Transparent by
    ``Col``'s alpha (the opacity): unlit, because Gaussian colours already hold the captured
    shading (Kerbl et al. 2023, 3D Gaussian Splatting, sec. 3: colours are
    view-dependent radiance, not albedo).

    Returns:
        A new node-based ``Material``.
    """
    mat, tree = _new_node_material(name)
    # Col's alpha holds the opacity; its "Alpha" output is named alike in 4.2 and 5.0.
    col = _attribute_node(tree, COLOR_ATTR, "INSTANCER", (-600, 0))
    emit = tree.nodes.new("ShaderNodeEmission")
    emit.location = (-300, 50)
    emit.inputs["Strength"].default_value = 1.0
    transparent = tree.nodes.new("ShaderNodeBsdfTransparent")
    transparent.location = (-300, -100)
    mix = tree.nodes.new("ShaderNodeMixShader")
    mix.location = (100, 0)
    links = tree.links
    links.new(_socket(col.outputs, "Color"), emit.inputs["Color"])
    links.new(_socket(col.outputs, "Alpha"), mix.inputs[0])  # "Fac" in 4.2, "Factor" in 5.0
    links.new(transparent.outputs[0], mix.inputs[1])
    links.new(emit.outputs[0], mix.inputs[2])
    links.new(mix.outputs[0], _material_output(tree).inputs["Surface"])
    _set_alpha_method(mat)
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    return mat


def build_mesh_material(name: str, image: bpy.types.Image | None, uv_map: str, use_vertex_colors: bool) -> bpy.types.Material:
    """Create the textured mesh material (Principled BSDF).

    Base colour comes from ``image`` through the UV map ``uv_map`` when given,
    else from the ``Col`` point attribute when ``use_vertex_colors``, else grey.
    The mesh is meant for lighting in a scene or a game engine, so it uses a
    lit BSDF rather than the splats' emission.

    Returns:
        A new node-based ``Material``.
    """
    mat, tree = _new_node_material(name)
    bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.location = (0, 0)
    links = tree.links
    links.new(bsdf.outputs[0], _material_output(tree).inputs["Surface"])
    if image is not None:
        uv = tree.nodes.new("ShaderNodeUVMap")
        uv.uv_map = uv_map
        uv.location = (-700, 0)
        tex = tree.nodes.new("ShaderNodeTexImage")
        tex.image = image
        tex.interpolation = "Linear"
        tex.extension = "EXTEND"
        tex.location = (-450, 0)
        links.new(uv.outputs["UV"], tex.inputs["Vector"])
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    elif use_vertex_colors:
        col = _attribute_node(tree, COLOR_ATTR, "GEOMETRY", (-400, 0))
        links.new(_socket(col.outputs, "Color"), bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.8
    return mat

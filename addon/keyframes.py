"""F-curve access that works on Blender 4.2 .. 5.0.

Blender 4.4 introduced slotted (layered) actions and 5.0 removed
``Action.fcurves``; an animated ID's curves now live in the channel bag of its
action slot (``bpy_extras.anim_utils.action_get_channelbag_for_slot``). Keys are
inserted with ``keyframe_insert`` (the same in every version), which ignores
the "new keyframe interpolation" preference when called from Python, so the
interpolation is set afterwards with ``set_interpolation``.
"""

from __future__ import annotations


def action_fcurves(anim_id) -> list:
    """The F-curves animating ``anim_id`` (an Object, a shape-key Key, ...); [] if none."""
    ad = getattr(anim_id, "animation_data", None)
    if ad is None or ad.action is None:
        return []
    action = ad.action
    if hasattr(ad, "action_slot") and hasattr(action, "layers"):
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        bag = action_get_channelbag_for_slot(action, ad.action_slot)
        return list(bag.fcurves) if bag is not None else []
    return list(action.fcurves)


def set_interpolation(anim_id, interpolation: str) -> int:
    """Set every keyframe of ``anim_id``'s F-curves to ``interpolation`` (e.g. "LINEAR").

    Returns:
        The number of keyframes changed.
    """
    count = 0
    for fc in action_fcurves(anim_id):
        for kp in fc.keyframe_points:
            kp.interpolation = interpolation
            count += 1
        fc.update()
    return count

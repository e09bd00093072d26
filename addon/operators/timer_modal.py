"""The timer plumbing shared by the add-on's long-running modal operators.

Generate, Install Dependencies, Check Backend and Download Model all poll a
subprocess from a window timer (Blender's ``bl_pkg`` pattern): start a timer
and a modal handler, react only to their own timer's ticks, and always remove
the timer when they end, however they end.
"""

from __future__ import annotations

TIMER_INTERVAL_S = 0.1


class TimerModal:
    """Mixin for ``bpy.types.Operator`` subclasses driven by their own window timer."""

    _timer = None

    def start_timer(self, context, interval: float = TIMER_INTERVAL_S) -> None:
        """Add the window timer and this operator as a modal handler."""
        wm = context.window_manager
        self._timer = wm.event_timer_add(interval, window=context.window)
        wm.modal_handler_add(self)

    def own_tick(self, event) -> bool:
        """True for this operator's timer events (other timers and input pass through)."""
        return event.type == "TIMER" and self._timer is not None and event.timer is self._timer

    def stop_timer(self, context) -> None:
        """Remove the timer; safe to call twice."""
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

"""The PyQt6 desktop app and the kiosk: windows that paint what the live session sends them.

The session (app/live_session.py) runs capture, the fast path and the recorder
on its own thread and the explainer in its own process; these widgets only
receive its contracts through Qt signals and paint them.
"""

"""Parley: real-time conversation over WebRTC with AI in the loop."""

__version__ = "0.1.0"

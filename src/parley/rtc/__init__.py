"""The server's WebRTC side (aiortc): peer configuration, the AI's outbound voice track, and the
caller's inbound audio. Knows nothing of HTTP, Socket.IO or the database."""

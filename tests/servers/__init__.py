"""Real servers for tests: the camera simulator, a GStreamer RTSP server, silent and closed ports."""

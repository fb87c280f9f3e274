"""Voice cues from the microphone or a file's audio: voice activity (silero VAD), loudness, pitch, rate."""

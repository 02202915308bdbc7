"""amplifier-local: the offline default provider, a GGUF model run by llama.cpp."""

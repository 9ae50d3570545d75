"""The environment variables that point engram at a real LLM or embedding provider.

The root conftest clears them for every test (no test may reach a real provider with a
developer's keys); the server tests also clear them for their session-wide server.
"""

from __future__ import annotations

PROVIDER_VARIABLES = (
    *("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    *("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "OLLAMA_HOST"),
    *("ENGRAM_LLM_PROVIDER", "ENGRAM_LLM_MODEL", "ENGRAM_LOCAL_MODEL"),
    *("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"),
    *("GROQ_API_KEY", "TOGETHER_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OPENROUTER_API_KEY"),
)

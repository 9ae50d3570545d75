"""Embedders over real HTTP: OpenAI /v1/embeddings, Ollama /api/embed, Gemini embedContent."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from provider_wire import FAST, sent_headers, sent_json
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engram.embedders import build_embedder
from engram.errors import ConfigError, ProviderError


def openai_embeddings(request: Request) -> Response:
    """A fake /v1/embeddings: vector i of each request is [len(text), 1, 0], listed in reverse order."""
    texts = request.get_json()["input"]
    data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(texts)]
    body = {
        "object": "list",
        "data": data[::-1],
        "model": "m",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    return Response(json.dumps(body), content_type="application/json")


def test_openai_batches_bulk_input_and_keeps_order_by_index(server: HTTPServer) -> None:
    server.expect_request("/v1/embeddings", method="POST").respond_with_handler(openai_embeddings)
    embedder = build_embedder(
        "openai",
        {
            "api_key": "sk-e",
            "base_url": server.url_for("/v1"),
            "model": "text-embedding-3-small",
            "dimensions": 3,
            "batch_size": 2,
            **FAST,
        },
    )
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    vectors = embedder.embed_batch(texts)

    assert vectors.shape == (5, 3) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = [np.array([len(t), 1.0, 0.0]) / np.linalg.norm([len(t), 1.0, 0.0]) for t in texts]
    assert np.allclose(vectors, expected, atol=1e-6)
    assert [len(sent_json(server, i)["input"]) for i in range(3)] == [2, 2, 1]
    first = sent_json(server, 0)
    assert first["model"] == "text-embedding-3-small" and first["dimensions"] == 3
    assert sent_headers(server, 0)["authorization"] == "Bearer sk-e"
    assert embedder.dimension == 3 and embedder.model_name == "openai/text-embedding-3-small@3"


def test_openai_compatible_preset_probes_an_unknown_models_dimension(server: HTTPServer) -> None:
    server.expect_request("/v1/embeddings").respond_with_handler(openai_embeddings)
    embedder = build_embedder("vllm", {"model": "bge-small", "base_url": server.url_for("/v1"), **FAST})
    assert embedder.dimension == 3
    assert "dimensions" not in sent_json(server)  # only text-embedding-3 models take it


def test_openai_429_then_success(server: HTTPServer) -> None:
    server.expect_ordered_request("/v1/embeddings").respond_with_json(
        {"error": {"message": "rate"}}, status=429, headers={"retry-after-ms": "10"}
    )
    server.expect_ordered_request("/v1/embeddings").respond_with_handler(openai_embeddings)
    embedder = build_embedder("openai", {"api_key": "k", "base_url": server.url_for("/v1"), "dimensions": 3, **FAST})
    assert embedder.embed_batch(["x"]).shape == (1, 3)
    assert len(server.log) == 2


def test_a_wrong_number_of_vectors_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request("/v1/embeddings").respond_with_json(
        {"data": [{"index": 0, "embedding": [1.0, 0.0, 0.0]}], "model": "m"}
    )
    embedder = build_embedder("openai", {"api_key": "k", "base_url": server.url_for("/v1"), "dimensions": 3, **FAST})
    with pytest.raises(ProviderError, match="malformed: 1 vectors"):
        embedder.embed_batch(["one", "two"])


def test_a_dimension_other_than_configured_says_what_to_set(server: HTTPServer) -> None:
    server.expect_request("/v1/embeddings").respond_with_handler(openai_embeddings)
    embedder = build_embedder("openai", {"api_key": "k", "base_url": server.url_for("/v1"), "dimensions": 8, **FAST})
    with pytest.raises(ProviderError, match="set 'dimensions'"):
        embedder.embed_batch(["x"])


def test_ollama_embed_sends_all_texts_in_one_request(server: HTTPServer) -> None:
    server.expect_request("/api/embed", method="POST").respond_with_json(
        {"model": "nomic-embed-text", "embeddings": [[3.0, 4.0], [0.0, 2.0]]}
    )
    embedder = build_embedder("ollama", {"host": server.url_for(""), "dimensions": 2, **FAST})
    vectors = embedder.embed_batch(["first", "second"], purpose="query")
    assert np.allclose(vectors, [[0.6, 0.8], [0.0, 1.0]])
    body = sent_json(server)
    assert body["model"] == "nomic-embed-text" and body["input"] == ["first", "second"]


def test_ollama_embed_error_is_a_provider_error(server: HTTPServer) -> None:
    server.expect_request("/api/embed").respond_with_json({"error": "model not found"}, status=404)
    embedder = build_embedder("ollama", {"host": server.url_for(""), "model": "nope", "dimensions": 2, **FAST})
    with pytest.raises(ProviderError, match="ollama pull nope"):
        embedder.embed_batch(["x"])


GEMINI_EMBED = re.compile(r"/v1(beta)?/models/gemini-embedding-001:batchEmbedContents")


def test_gemini_embeds_with_task_type_and_output_dimensionality(server: HTTPServer) -> None:
    def answer(request: Request) -> Response:
        count = len(request.get_json()["requests"])
        embeddings = [{"values": [1.0, float(i), 0.0]} for i in range(count)]
        return Response(json.dumps({"embeddings": embeddings}), content_type="application/json")

    server.expect_request(GEMINI_EMBED, method="POST").respond_with_handler(answer)
    embedder = build_embedder("gemini", {"api_key": "g", "base_url": server.url_for(""), "dimensions": 3, **FAST})
    vectors = embedder.embed_batch(["a", "b"], purpose="query")

    assert vectors.shape == (2, 3)
    assert np.allclose(vectors[0], [1.0, 0.0, 0.0])
    requests = sent_json(server)["requests"]  # batchEmbedContents: one request per text
    assert [r["content"]["parts"] for r in requests] == [[{"text": "a"}], [{"text": "b"}]]
    assert {(r["taskType"], r["outputDimensionality"]) for r in requests} == {("RETRIEVAL_QUERY", 3)}
    assert sent_headers(server)["x-goog-api-key"] == "g"


def test_unknown_embedder_and_missing_key_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown embedder provider 'nope'"):
        build_embedder("nope")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_embedder("openai", {})


def test_sentence_transformers_needs_an_existing_local_folder(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="loads local models only"):
        build_embedder("sentence_transformers", {"model": "/no/such/model"})

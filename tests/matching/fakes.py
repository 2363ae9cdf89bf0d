"""A deterministic stand-in for the e5 model: character bigram hashing, L2-normalised.

Texts that share characters get similar vectors, which is enough to test the plumbing; the real
model is tested in the tests marked ``model``.
"""

import zlib

import numpy as np


class FakeEmbedder:
    model_id = "fake-bigram-512"
    dim = 512

    def __init__(self):
        self.calls = 0
        self.texts = 0

    def encode(self, texts, prompt="query"):
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, t in enumerate(texts):
            t = "".join(t.split())
            for i in range(len(t) - 1):
                out[n, zlib.crc32(t[i : i + 2].encode()) % self.dim] += 1.0
            out[n, 0] += 0.01
        return out / np.linalg.norm(out, axis=1, keepdims=True)

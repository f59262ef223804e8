"""The CATS decoder: learnable queries cross-attend to the patch sequence."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CrossAttention(nn.Module):
    """Multi-head attention of queries over keys/values that also returns its weights.

    Args:
        emb_dim: model width; split evenly over ``num_heads``.
        num_heads: number of attention heads.
    """

    def __init__(self, emb_dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.w_q = nn.Linear(emb_dim, emb_dim)
        self.w_k = nn.Linear(emb_dim, emb_dim)
        self.w_v = nn.Linear(emb_dim, emb_dim)
        self.w_o = nn.Linear(emb_dim, emb_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        return x.view(b, length, self.num_heads, d // self.num_heads).transpose(1, 2)  # [B, h, L, d/h]

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend ``queries`` ``[B, Q, E]`` over ``memory`` ``[B, N, E]``.

        Returns:
            ``(out [B, Q, E], weights [B, heads, Q, N])``; each weight row sums to 1.
        """
        q = self._heads(self.w_q(queries))  # [B, h, Q, E/h]
        k = self._heads(self.w_k(memory))  # [B, h, N, E/h]
        v = self._heads(self.w_v(memory))  # [B, h, N, E/h]
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # [B, h, Q, N]
        out = (weights @ v).transpose(1, 2).flatten(2)  # [B, Q, E]
        return self.w_o(out), weights


class DecoderLayer(nn.Module):
    """Cross-attention then a feed-forward block, each with residual, dropout and LayerNorm."""

    def __init__(self, emb_dim: int, num_heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attention = CrossAttention(emb_dim, num_heads)
        self.norm_attention = nn.LayerNorm(emb_dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(emb_dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, emb_dim)
        )
        self.norm_feed_forward = nn.LayerNorm(emb_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine ``queries`` ``[B, Q, E]`` from ``memory`` ``[B, N, E]``; also return the weights."""
        attended, weights = self.attention(queries, memory)
        queries = self.norm_attention(queries + self.dropout(attended))
        queries = self.norm_feed_forward(queries + self.dropout(self.feed_forward(queries)))
        return queries, weights


class CatsDecoder(nn.Module):
    """Learnable queries cross-attend to position-encoded patch features.

    Queries live in the patch-feature space and share the ``W_feat2emb`` projection
    with the patches, so both enter the attention through the same map. The learnable
    positional encoding is kept on a ``pos_grid`` patch grid and resampled bilinearly
    when an image yields a different grid.

    Args:
        featured_patch_dim: ``D``, width of the encoder's patch features.
        emb_dim: ``E``, width inside the attention layers.
        num_heads: attention heads per layer.
        num_layers: decoder layers.
        num_queries: ``Q``, learnable queries (the document's ``num_decoder_patches``).
        ff_dim: hidden width of each feed-forward block.
        dropout: dropout after attention and in the feed-forward blocks.
        pos_grid: ``(gh, gw)`` grid the positional encoding is learnt on.
    """

    def __init__(
        self,
        featured_patch_dim: int,
        emb_dim: int,
        num_heads: int,
        num_layers: int,
        num_queries: int,
        ff_dim: int,
        dropout: float,
        pos_grid: tuple[int, int],
    ) -> None:
        super().__init__()
        self.pos_grid = pos_grid
        self.W_feat2emb = nn.Linear(featured_patch_dim, emb_dim)
        self.positional_encoding = nn.Parameter(torch.empty(pos_grid[0] * pos_grid[1], emb_dim))  # [N0, E]
        # Unit scale, like the LayerNorm-ed patch features the queries are compared with.
        self.learnable_queries = nn.Parameter(torch.randn(num_queries, featured_patch_dim))  # [Q, D]
        nn.init.trunc_normal_(self.positional_encoding, std=0.02)
        self.layers = nn.ModuleList(DecoderLayer(emb_dim, num_heads, ff_dim, dropout) for _ in range(num_layers))
        self.W_emb2feat = nn.Linear(emb_dim, featured_patch_dim)
        self.dropout = nn.Dropout(dropout)

    def positions(self, grid: tuple[int, int]) -> torch.Tensor:
        """The positional encoding for a ``(gh, gw)`` patch grid, ``[gh * gw, E]``."""
        if tuple(grid) == tuple(self.pos_grid):
            return self.positional_encoding
        pe = self.positional_encoding.T.reshape(1, -1, *self.pos_grid)  # [1, E, gh0, gw0]
        pe = F.interpolate(pe, size=tuple(grid), mode="bilinear", align_corners=False)  # [1, E, gh, gw]
        return pe.flatten(2)[0].T  # [gh*gw, E]

    def forward(self, patches: torch.Tensor, grid: tuple[int, int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Decode ``patches`` ``[B, N, D]`` laid out on ``grid``.

        Returns:
            ``(features [B, Q * D], weights)`` with one ``[B, heads, Q, N]`` tensor per layer.
        """
        memory = self.dropout(self.W_feat2emb(patches) + self.positions(grid))  # [B, N, E]
        queries = self.W_feat2emb(self.learnable_queries)  # [Q, E]
        queries = queries.unsqueeze(0).expand(patches.shape[0], -1, -1)  # [B, Q, E]
        weights = []
        for layer in self.layers:
            queries, layer_weights = layer(queries, memory)  # [B, Q, E], [B, h, Q, N]
            weights.append(layer_weights)
        return self.W_emb2feat(queries).flatten(1), weights  # [B, Q*D]

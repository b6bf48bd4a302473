"""Dockerfile builder for compose ``build:`` (parser, instructions, layer cache)."""

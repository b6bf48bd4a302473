"""Compose Specification loader: compose files in, a frozen :class:`~compose.config.model.Project` out."""

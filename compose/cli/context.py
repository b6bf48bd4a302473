"""The object every command receives: the global options and a way to load the project."""
from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from compose.config import LoadOptions
    from compose.config.model import Project


@dataclass(slots=True)
class CliContext:
    """Global options given before the command (``pycompose -f x.yaml -p demo up``)."""

    files: tuple[str, ...] = ()
    project_name: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    project_directory: str | None = None
    verbose: bool = False
    progress: str = "auto"
    ansi: str = "auto"
    dry_run: bool = False
    parallel: int = -1
    _cache: dict[tuple[tuple[str, ...], bool], Project] = field(default_factory=dict)

    def load_options(self, services: tuple[str, ...] = (), interpolate: bool = True
                     ) -> LoadOptions:
        """The loader options for this invocation."""
        from compose.config import LoadOptions

        return LoadOptions(
            files=self.files, project_name=self.project_name,
            project_directory=self.project_directory, env_files=self.env_files,
            profiles=self.profiles, services=services, interpolate=interpolate,
        )

    def load_project(self, services: tuple[str, ...] = (), interpolate: bool = True) -> Project:
        """Load (once per argument set) the project; ``services`` are the command's targets,
        which enables them even when their profile is not active."""
        key = (tuple(services), interpolate)
        if key not in self._cache:
            from compose.config import load

            self._cache[key] = load(self.load_options(tuple(services), interpolate))
        return self._cache[key]

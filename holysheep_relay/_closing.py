"""``with`` / ``async with`` support for anything with ``close()`` / ``aclose()``."""

from __future__ import annotations

from typing_extensions import Self

__all__ = ["AsyncClosing", "Closing"]


class Closing:
    """``with obj:`` calls ``obj.close()`` at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClosing:
    """``async with obj:`` awaits ``obj.aclose()`` at the end."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

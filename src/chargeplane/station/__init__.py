"""The charging-station stack: a sans-I/O core (:mod:`.core`), hardware abstraction, asyncio runtime."""

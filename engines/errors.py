"""Errors a user can act on. The command line prints their message as one line."""


class EmolensError(Exception):
    """Base for errors that carry a message meant for the user, fix included."""


class ModelError(EmolensError):
    """A model file is missing, truncated, or not what its manifest says."""


class BackendError(EmolensError):
    """No inference runtime could run a model."""

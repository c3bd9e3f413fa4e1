"""Errors of the env families beyond an unknown id (`seedrl.spec.env.UnknownEnvError`)."""


class MissingEnvPackage(ImportError):
    """The family's package is not installed here; the message says how to install it."""

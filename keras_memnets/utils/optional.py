"""Imports of optional dependencies, with an error that says what to
install."""


def import_pyplot(user, extra):
    """`matplotlib.pyplot`, or an `ImportError` naming `user` (what needs
    it) and the keras-memnets `extra` that installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            f"{user} needs matplotlib: pip install 'keras-memnets[{extra}]'."
        ) from error
    return plt

"""The optimizers --optimizer allows (no grokjax imports: grokjax.config reads them for its choices)."""
from __future__ import annotations

import optax

# Chains written out here (PyTorch's semantics, Adam betas from the config).
OWN_OPTIMIZERS = ("adamw", "adam", "sgd")
# Further optax optimizers usable by name where the installed optax has them (optax, then
# optax.contrib): each is called as name(learning_rate=schedule[, weight_decay=wd]) with its own
# defaults for everything else.
OPTAX_OPTIMIZERS = ("lion", "muon", "lamb", "lars", "adan", "adabelief", "nadamw", "radam", "rmsprop",
                    "adagrad", "adafactor", "amsgrad", "adamax", "adamaxw", "novograd", "yogi", "sm3",
                    "fromage", "sign_sgd", "adadelta")


def optax_factory(name: str):
    """The installed optax's optimizer `name` (optax first, then optax.contrib), or None."""
    import optax.contrib
    return getattr(optax, name, None) or getattr(optax.contrib, name, None)


def optimizer_names() -> tuple[str, ...]:
    """Every allowed --optimizer: ours, then the optax ones this optax has."""
    return OWN_OPTIMIZERS + tuple(n for n in OPTAX_OPTIMIZERS if optax_factory(n) is not None)

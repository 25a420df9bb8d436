"""One model resolver for the API and every CLI subcommand: name | folder | ``timm:NAME``.

``load_model(spec)`` gives ``(model, processor)`` in eval mode, offline (nothing is ever
downloaded):

- an embedded name (``multiattn.zoo.names()``: ``"minilm"``, ``"shapes-vit"``...);
- a local Hugging Face folder (``config.json`` + weights): the class the checkpoint was saved
  as (``config.architectures``), so a headless ``Dinov2Model`` stays headless instead of
  growing a randomly initialised classifier; its tokenizer / processor when the folder has one;
- ``"timm:NAME"`` with ``weights=FILE.safetensors`` (a random-init model explains nothing).

``modality=`` makes a subcommand refuse the wrong kind of model up front, with a one-line
error, instead of failing later inside a library.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ._types import Model, Processor

__all__ = ["load_model"]


def load_model(spec: str | Path, *, weights: str | Path | None = None,
               modality: str | None = None) -> tuple[Model, Processor]:
    """Resolve ``spec`` to ``(model, processor or None)``, offline.

    Parameters
    ----------
    spec : str or Path
        Embedded name, local Hugging Face folder, or ``"timm:NAME"``.
    weights : str or Path, optional
        ``.safetensors`` state dict for a ``timm:`` model (required there).
    modality : str, optional
        Expected modality (``"text"``, ``"image"``, ``"image-text"``, ``"audio"``, ``"video"``,
        ``"graph"``); a model of another kind is refused.

    Raises
    ------
    FileNotFoundError
        A folder without ``config.json``, missing weights.
    ValueError
        An unknown name, weights that do not fit, a model of the wrong modality.

    Examples
    --------
    >>> model, processor = load_model("shapes-vit")  # doctest: +SKIP
    >>> model, tokenizer = load_model("path/to/bert-folder", modality="text")  # doctest: +SKIP
    """
    from . import zoo
    from ._api import modality as modality_of

    spec_text = str(spec)
    if spec_text in zoo.MODELS:
        model, processor = zoo.load(spec_text)
    elif spec_text.startswith("timm:"):
        model, processor = _timm(spec_text[5:], weights)
    elif Path(spec_text).is_dir():
        model, processor = _hf_folder(Path(spec_text), modality, spec_text)
    else:
        raise MultiattnValueError(_unknown(spec_text, modality))
    if modality is not None:
        found = modality_of(model)
        if found != modality:
            raise MultiattnValueError(
                f"{spec_text} is a {found} model ({type(model).__name__}), not {modality}; "
                             f"use the `multiattn` subcommand for {found}")
    return model, processor


def _unknown(spec: str, modality: str | None) -> str:
    """``unknown model 'x': neither 'minilm', 'induction' (embedded text models) nor ...``."""
    from . import zoo

    names = [name for name, (kind, _) in zoo.MODELS.items() if modality in (None, kind)]
    path_like = "/" in spec or "\\" in spec or spec.startswith(".")
    missing = "model folder not found; it is " if path_like else ""
    timm = " nor 'timm:NAME' with weights" if modality in (None, "image") else ""
    return (f"unknown model {spec!r}: {missing}neither {', '.join(map(repr, names))} (embedded"
            f"{'' if modality is None else ' ' + modality} models) nor a local Hugging Face folder{timm} "
            "(models are never downloaded)")


def _timm(name: str, weights: str | Path | None) -> tuple[Model, None]:
    import timm
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models()"
        raise MultiattnValueError(f"timm has no architecture {name!r}{hint}")
    if weights is None or not Path(weights).is_file():
        raise MultiattnFileNotFoundError("timm models need local weights: pass --weights FILE.safetensors "
                                f"(got {weights})")
    state = _read_safetensors(Path(weights))
    head = state.get("head.weight")
    model = timm.create_model(name, pretrained=False, num_classes=0 if head is None else head.shape[0])
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise MultiattnValueError(f"the weights in {weights} do not fit the timm architecture {name!r}: "
                         f"{str(err).splitlines()[0]}") from None
    return model.eval(), None


def _read_safetensors(path: Path) -> dict:
    """A state dict from a ``.safetensors`` file; anything else (a pickled ``.pth``) is refused unread."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise MultiattnValueError(
            f"{path} is not a safetensors file ({str(err).splitlines()[0]}); multiattn never loads pickled "
            "weights (.pth/.bin): convert them once with safetensors.torch.save_file(torch.load(...), ...)"
        ) from None


def _check_config_modality(config: object, modality: str | None, spec: str) -> None:
    """Refuse a folder of the wrong kind from its config alone, before any weight is read."""
    from types import SimpleNamespace

    from ._api import modality as modality_of

    if modality is None:
        return
    found = modality_of(SimpleNamespace(config=config))
    if found != modality:
        kind = getattr(config, "model_type", "?")
        article = "an" if found[0] in "aeiou" else "a"
        raise MultiattnValueError(f"{spec} is {article} {found} model (model_type {kind!r}), not {modality}; "
                                  f"use the `multiattn` subcommand for {found}")


def _hf_folder(path: Path, modality: str | None = None, spec: str = "") -> tuple[Model, Processor]:
    import transformers

    if not (path / "config.json").is_file():
        raise MultiattnFileNotFoundError(f"{path} has no config.json; is it a Hugging Face model folder?")
    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise MultiattnValueError(f"cannot read {path / 'config.json'}: {str(err).splitlines()[0]}") from None
    _check_config_modality(config, modality, spec or str(path))
    architectures = getattr(config, "architectures", None) or []
    cls = getattr(transformers, architectures[0], None) if architectures else None
    if cls is None:  # no record of the saved class: the bare model of this type
        cls = transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModel
    model = cls.from_pretrained(path, local_files_only=True).eval()
    return model, _processor(path)


def _processor(path: Path) -> Processor:
    """The folder's processor, image processor, tokenizer or feature extractor, whichever it has."""
    import transformers

    for loader in (transformers.AutoProcessor, transformers.AutoImageProcessor, transformers.AutoTokenizer,
                   transformers.AutoFeatureExtractor):  # a speech encoder's folder without a tokenizer
        try:
            return loader.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None

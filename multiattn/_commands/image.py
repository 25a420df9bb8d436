"""``multiattn image PATH --out FILE.png``: where a vision transformer looks in an image.

Examples::

    multiattn image cat.jpg --out cat.png                        # shapes-vit, relevance
    multiattn image cat.jpg --method all --out compare.png       # raw | rollout | grad-rollout | relevance
    multiattn image cat.jpg --model ./my-hf-vit --target tabby --out cat.png
    multiattn image cat.jpg --model timm:vit_small_patch16_224 --weights vit_s.safetensors --out cat.png
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]

_METHODS = ("raw", "rollout", "grad-rollout", "relevance")
_GRADIENT = ("grad-rollout", "relevance")  # the methods that explain a target class


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="attention / relevance of a vision transformer on an image")
    p.add_argument("path", help="image file (jpg, png, ...)")
    _common.add_model(p, "shapes-vit", "image", timm=True)
    p.add_argument("--method", default=None, choices=[*_METHODS, "all"],
                   help="explanation method (default: relevance; rollout for a backbone without a class "
                        "head); 'all' draws every method the model supports side by side")
    p.add_argument("--target", default=None, help="class index or name to explain (default: predicted)")
    p.add_argument("--upsample", default="bilinear", choices=["bilinear", "nearest", "bicubic"])
    p.add_argument("--threshold", type=float, default=None,
                   help="colour only the top share of the map's mass, e.g. 0.6 (DINO style)")
    p.add_argument("--shared-scale", action="store_true", help="with --method all: one colour scale")
    p.add_argument("--out", required=True, help="output PNG")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.adapters.vit import has_class_head
    from multiattn.errors import MultiattnValueError, UnsupportedModelError
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.image import explanation_figure

    model, processor = multiattn.load_model(args.model, weights=args.weights, modality="image")
    target = _common.index_or_name(args.target)
    headless = not has_class_head(model)
    if headless and (target is not None or args.method in _GRADIENT):
        raise MultiattnValueError(
            f"{args.model} is a backbone without a class head ({type(model).__name__}): there is no class "
            "to explain; drop --target and use --method raw or rollout (the default)")
    if headless:
        print(f"[image] {type(model).__name__} has no class head: showing target-free maps")
    usable = tuple(m for m in _METHODS if not (headless and m in _GRADIENT))
    # no --method: explain() picks (relevance; rollout for a backbone or a Swin)
    methods = usable if args.method == "all" else (args.method,)
    maps = {}
    for m in methods:
        # with "all" the target goes to the gradient methods only; alone, explain() refuses it if meaningless
        try:
            amap = multiattn.explain(model, args.path, processor=processor, method=m,
                                     target=target if args.method != "all" or m in _GRADIENT else None)
        except UnsupportedModelError:
            if args.method != "all":
                raise
            print(f"[image] {type(model).__name__}: {m} not supported, left out")
            continue
        maps[amap.meta["method"]] = amap
    fig = explanation_figure(args.path, maps, upsample=args.upsample, threshold=args.threshold,
                             shared_scale=args.shared_scale)
    print(save_figure(fig, args.out))
    if args.save:
        _common.save(multiattn.capture(model, args.path, processor=processor), args.save)
    return 0

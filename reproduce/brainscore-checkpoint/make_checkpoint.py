#!/usr/bin/python3
"""Write a random-weight torchvision VGG-16 checkpoint (a state_dict), the
stand-in for a trained ImageNet checkpoint in the reduced run of this folder.

usage: make_checkpoint.py OUT.pth [--seed S]

The weights are torchvision's own initialisation of vgg16(weights=None)
after torch.manual_seed(S) (default 0): the same keys and shapes as
torchvision's ImageNet file vgg16-397923af.pth, so the same conversion
(scripts/torch_to_h5.py) and the same study file apply to both.
Needs python3-torch and python3-torchvision (Debian/Ubuntu: apt install
python3-torch python3-torchvision).
"""

import argparse
import hashlib
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="make_checkpoint.py", description=__doc__.split("\n")[0])
    ap.add_argument("output", metavar="OUT.pth", help="checkpoint to write (torch.save of the state_dict)")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed before building the model [default: 0]")
    args = ap.parse_args(argv)
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"make_checkpoint: needs python3-torch and python3-torchvision ({e})", file=sys.stderr)
        return 1
    torch.manual_seed(args.seed)
    model = torchvision.models.vgg16(weights=None)
    tmp = args.output + ".partial"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, args.output)
    # the file's own hash depends on its name (torch.save records it in the
    # archive), so identify the weights by their values: SHA-256 over the
    # sorted keys and each tensor's float32 bytes
    sd = model.state_dict()
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    n = sum(t.numel() for t in sd.values())
    print(f"{args.output}: torchvision {torchvision.__version__} vgg16(weights=None), torch.manual_seed({args.seed}), "
          f"torch {torch.__version__}, {n} parameters, tensors sha256 {h.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

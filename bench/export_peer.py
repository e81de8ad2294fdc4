#!/usr/bin/python3
"""The Python route to what `neurocmp export` does, for bench/bench_export.sh:
images decoded with PIL, torchvision transforms (stretch to SIZE x SIZE,
ToTensor, ImageNet Normalize), the model, and h5py writes of every block at
every iteration ([T+1, n, ...] per layer, float32), batch by batch.

  vgg16       torchvision.models.vgg16, forward hooks on the five pools,
              the two ReLU'd fc layers and the logits (neurocmp's layers)
  vgg16-cnnf  the CNN-F of tests/gen_model_fixtures.py (PyTorch ops, 2x2
              pools through max_pool2d with indices, as bench/torch_peer.py)

Weights are random (torchvision's initialisation): the time does not depend
on them.  Prints one line: "seconds <wall> images <n>".
"""
import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of images")
    p.add_argument("--arch", choices=("vgg16", "vgg16-cnnf"), required=True)
    p.add_argument("-T", type=int, default=0)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    t0 = time.perf_counter()
    import h5py
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms

    torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.dtype == "float64" else torch.float32
    tf = transforms.Compose([transforms.Resize((a.size, a.size)), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    files = sorted(os.path.join(a.images, f) for f in os.listdir(a.images))
    n = len(files)
    torch.manual_seed(0)
    tv = torchvision.models.vgg16(weights=None).eval()
    if a.arch == "vgg16":
        model = tv.to(dtype)
        taps = {"block1": model.features[4], "block2": model.features[9], "block3": model.features[16],
                "block4": model.features[23], "block5": model.features[30], "fc6": model.classifier[1],
                "fc7": model.classifier[4], "logits": model.classifier[6]}
        got = {}
        for name, mod in taps.items():
            mod.register_forward_hook(lambda m, i, o, name=name: got.__setitem__(name, o))

        def run(x):
            model(x)
            return {k: v.unsqueeze(0) for k, v in got.items()}
    else:
        import torch_peer
        weights = {k: v.to(dtype) for k, v in tv.state_dict().items()}
        net = torch_peer.cnnf_net(weights, a.size)

        def run(x):
            return net.run(x, a.T)

    f = h5py.File(a.out, "w")
    dsets = {}
    with torch.no_grad():
        for start in range(0, n, a.batch):
            names = files[start:start + a.batch]
            x = torch.stack([tf(Image.open(fn).convert("RGB")) for fn in names]).to(dtype)
            rec = run(x)
            for k, v in rec.items():
                v = v.to(torch.float32).numpy()
                if k not in dsets:
                    dsets[k] = f.create_dataset("activations/" + k, (v.shape[0], n) + v.shape[2:], dtype=np.float32,
                                                chunks=(1, 1) + v.shape[2:])
                dsets[k][:, start:start + len(names)] = v
    f.close()
    print(f"seconds {time.perf_counter() - t0:.3f} images {n}")


if __name__ == "__main__":
    main()

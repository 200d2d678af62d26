"""The ODE motion generator of benchmarks/motion_speed.py in PyTorch + torchdiffeq, same weights.

Not part of our stack: run it with any Python that has numpy, torch and torchdiffeq (no jax),
as a file, e.g. through ``python -m benchmarks.motion_speed --torchdiffeq PYTHON``, which writes
the weights, runs this script and puts its timings beside ours. The model: ẋ = W₂ tanh(W₁x + b₁)
+ b₂ from x(0) = z₀, the whole trajectory at the frame times, loss mean(x²), forward + backward
by direct backpropagation through the solver (torchdiffeq's ``odeint``) and by the adjoint
method (``odeint_adjoint``), each with classical RK4 one step per frame and with dopri5. Prints
one JSON object: milliseconds per forward + backward (best of ``--repeat``).

    PYTHON benchmarks/torchdiffeq_motion.py WEIGHTS.npz [--threads 1] [--rtol 1e-3] [--atol 1e-6]
"""

import argparse
import json
import timeit

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", help="npz with W1 [d, h], b1 [h], W2 [h, d], b2 [d], z0 [b, d], ts")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-6)
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args(argv)
    import torch  # noqa: PLC0415 (not installed with the library: imported only when run)
    import torchdiffeq  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    w = {k: torch.tensor(v) for k, v in np.load(args.weights).items()}
    d, h = w["W1"].shape

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = torch.nn.Linear(d, h), torch.nn.Linear(h, d)
            with torch.no_grad():  # torch's Linear computes x Wᵀ + b
                self.l1.weight.copy_(w["W1"].T)
                self.l1.bias.copy_(w["b1"])
                self.l2.weight.copy_(w["W2"].T)
                self.l2.bias.copy_(w["b2"])

        def forward(self, t, x):
            return self.l2(torch.tanh(self.l1(x)))

    field = Field()

    def best_ms(method, odeint=torchdiffeq.odeint, **options):
        def run():
            field.zero_grad()
            xs = odeint(field, w["z0"], w["ts"], method=method, **options)
            (xs**2).mean().backward()

        run()
        return 1e3 * min(timeit.repeat(run, repeat=args.repeat, number=1))

    result = {
        "torch": torch.__version__,
        "torchdiffeq": torchdiffeq.__version__,
        "threads": args.threads,
        "rk4_ms": best_ms("rk4"),
        "dopri5_ms": best_ms("dopri5", rtol=args.rtol, atol=args.atol),
        "rk4_adjoint_ms": best_ms("rk4", torchdiffeq.odeint_adjoint),
        "dopri5_adjoint_ms": best_ms(
            "dopri5", torchdiffeq.odeint_adjoint, rtol=args.rtol, atol=args.atol
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

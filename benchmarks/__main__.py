"""`make bench`: runs every benchmark at its default size (see benchmarks/README.md)."""

import importlib

# Cheap to expensive; left out (hours on a CPU, run them alone): the Table 6.1 reproduction,
# mnist_comparison and the image-level motion_collapse.
SCRIPTS = (
    "flow_speed", "lsgan_solvers", "dirac_fields", "adequacy", "generator_coupling",
    "flow_scaling", "odegan_step", "mog_comparison", "ncode_toys", "motion_speed",
    "continuous_depth", "seed_batching", "motion_collapse_latent",
)

if __name__ == "__main__":
    for name in SCRIPTS:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main([])

"""`make bench`: runs every benchmark at its default size (see benchmarks/README.md)."""

from . import adequacy, dirac_fields, flow_speed, generator_coupling, lsgan_solvers

if __name__ == "__main__":
    flow_speed.main([])
    lsgan_solvers.main([])
    dirac_fields.main([])
    adequacy.main([])
    generator_coupling.main([])
